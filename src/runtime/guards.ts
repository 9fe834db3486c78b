import { BudgetExhaustedError, FlotillaError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import {
  BudgetReserver,
  CostVelocity,
  DEFAULT_RESERVATION_TTL_MS,
  type BudgetLimits,
} from "../deadletter/budgets.js";
import { LoopGuard, type StepSeen } from "../deadletter/loops.js";
import type { JournalIndex, StepRecord } from "../journal/JournalIndex.js";
import type { NewEvent } from "../store/types.js";
import type { ExecutionHost } from "./Execution.js";

/** What the guards read from the execution they watch. */
export interface GuardedRun {
  readonly host: ExecutionHost;
  readonly runId: string;
  readonly agent: string;
  readonly tenant: string | null;
  /** The root of the run tree, whose budget children draw from. */
  readonly root: string;
  readonly journal: JournalIndex;
  /** Agent names from the root run to this run's parent. */
  readonly lineage: string[];
  /** The run's own limits, redrive patches applied. */
  readonly limits: BudgetLimits;
  /** When the run's budget started counting wall time, if it has one. */
  readonly startedAt: number | undefined;
  viaStore<T>(call: () => Promise<T>): Promise<T>;
  write(events: NewEvent[]): Promise<void>;
  /** Stops the run on a trip, before the trip's error is thrown (agent code cannot catch its way past it). */
  trip(error: FlotillaError): void;
}

/**
 * One execution's guards: the loop detectors and the budgets (LLM cost
 * reservations against run, tenant and global scopes; step count; wall
 * time). A trip stops the run and throws its FlotillaError.
 */
export class RunGuards {
  private readonly loops: LoopGuard | undefined;
  /** Reserves worst-case LLM cost; undefined when no budget limits cost, so the hot path skips it. */
  readonly reserver: BudgetReserver | undefined;

  constructor(private readonly run: GuardedRun) {
    const thresholds = run.host.loopThresholds(run.agent);
    if (thresholds) this.loops = new LoopGuard(run.runId, thresholds, run.lineage, run.agent);
    this.reserver = reserverFor(run);
  }

  /** Checks a new or replayed step against the no-progress detector and the step and wall-time budgets. */
  observe(rec: StepRecord | undefined, isNew: boolean): void {
    try {
      if (this.loops && this.counts(rec)) this.loops.observe(isNew);
      if (rec === undefined) this.checkStepBudget();
    } catch (err) {
      this.tripped(err);
    }
  }

  /** A step's request and outcome, for the loop detectors; the step is journaled, a trip stops the run at it. */
  outcome(rec: StepRecord | undefined, seen: StepSeen): void {
    try {
      if (this.loops && this.counts(rec)) this.loops.outcome(seen);
    } catch (err) {
      this.tripped(err);
    }
  }

  /** Refuses a new child that would close an agent ping-pong cycle. */
  checkSpawn(child: string): void {
    try {
      this.loops?.checkSpawn(child);
    } catch (err) {
      this.tripped(err);
    }
  }

  private tripped(err: unknown): never {
    if (err instanceof FlotillaError) this.run.trip(err);
    throw err;
  }

  /** Steps recorded before the last redrive are not held against the run: the detectors start afresh. */
  private counts(rec: StepRecord | undefined): boolean {
    return rec === undefined || rec.epoch === this.run.journal.redrives;
  }

  private checkStepBudget(): void {
    const { steps, wallMs } = this.run.limits;
    const taken = this.run.journal.steps.size;
    if (steps !== undefined && taken >= steps)
      throw new BudgetExhaustedError(`run:${this.run.runId}`, "steps", steps, 1, taken);
    const startedAt = this.run.startedAt;
    if (wallMs !== undefined && startedAt !== undefined) {
      const used = this.run.host.clock.now() - startedAt;
      if (used > wallMs)
        throw new BudgetExhaustedError(`run:${this.run.root}`, "wall ms", wallMs, 0, used);
    }
  }
}

/** A reserver over the scopes that limit cost or tokens, or undefined when none does. */
function reserverFor(run: GuardedRun): BudgetReserver | undefined {
  const { host, limits } = run;
  const options = host.budgets;
  const tenant = run.tenant ?? "default";
  const scopes = [
    { scope: `run:${run.root}`, limits },
    { scope: `tenant:${tenant}`, limits: options?.tenants?.[tenant] },
    { scope: "global", limits: options?.global },
  ]
    .filter((s) => s.limits?.usd !== undefined || s.limits?.tokens !== undefined)
    .map((s) => ({
      scope: s.scope,
      ...(s.limits?.usd !== undefined ? { usd: s.limits.usd } : {}),
      ...(s.limits?.tokens !== undefined ? { tokens: s.limits.tokens } : {}),
    }));
  if (scopes.length === 0) return undefined;
  const velocity = new CostVelocity(
    limits.usdPerMinute,
    () => host.clock.now(),
    (usd) => {
      host.warn(`run ${run.runId} is spending fast`, `$${usd.toFixed(4)} in the last minute`);
      void run
        .write([
          {
            type: "budget.alarm",
            data: { usdLastMinute: usd, limit: (limits.usdPerMinute ?? null) as Json },
          },
        ])
        .catch(() => undefined);
    },
  );
  const store = host.store;
  return new BudgetReserver(
    {
      // The ledger is the store too: its failure abandons the execution, it never fails the step.
      reserveBudget: (r) => run.viaStore(() => store.reserveBudget(r)),
      settleBudget: (id, scopes, spent) =>
        run.viaStore(() => store.settleBudget(id, scopes, spent)),
    },
    run.runId,
    scopes,
    options?.prices ?? {},
    options?.defaultMaxTokens ?? 4096,
    options?.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS,
    (usd) => velocity.record(usd),
  );
}
