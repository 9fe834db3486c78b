import type { Clock } from "../core/clock.js";
import {
  BudgetExhaustedError,
  DeadlineExceededError,
  CancelledError,
  FlotillaError,
  LeaseLostError,
  NonDeterminismError,
  StoreFaultError,
  isFlotillaError,
  serializeError,
  type SerializedError,
} from "../core/errors.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { setLongTimeout } from "../core/timers.js";
import {
  BudgetReserver,
  CostVelocity,
  DEFAULT_RESERVATION_TTL_MS,
  runBudgetOf,
  type BudgetLimits,
  type BudgetsOptions,
  type RunBudget,
} from "../deadletter/budgets.js";
import { captureDeadLetter } from "../deadletter/capture.js";
import { LoopGuard, type LoopLimits } from "../deadletter/loops.js";
import { classOf, type DeadLetterClass } from "../deadletter/taxonomy.js";
import type { NewDeadLetter } from "../deadletter/types.js";
import { JournalIndex, type StepKind, type StepRecord } from "../journal/JournalIndex.js";
import type { PayloadWriter } from "../journal/payloads.js";
import type { LlmProvider } from "../providers/types.js";
import { cancellationCommit } from "../saga/cancel.js";
import type { ClaimedRun, Commit, NewEvent, Store } from "../store/types.js";
import type { Agent } from "./Agent.js";
import type { ToolRunHost } from "../effects/runTool.js";
import type { LlmHost } from "./llmCall.js";
import { RunContext } from "./RunContext.js";

/** What an execution needs from the Flotilla instance that hosts it. */
export interface ExecutionHost extends LlmHost, ToolRunHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly payloads: PayloadWriter;
  readonly workerId: string;
  /** Sleeps up to this long are waited in-process; longer ones suspend the run. */
  readonly inlineSleepMs: number;
  /** How long a stopping run's code may take to unwind before it is finalized anyway. */
  readonly stopGraceMs: number;
  agentByName(name: string): Agent | undefined;
  provider(name?: string): LlmProvider;
  /** Told when a run reaches a state a caller may be waiting for. */
  settled(runId: string): void;
  /** Budgets every run draws from (tenant, global) and the prices reservations use. */
  readonly budgets: BudgetsOptions | undefined;
  /** The loop detectors' thresholds for an agent, or false when it opted out. */
  loopThresholds(agent: string): LoopLimits | false;
  /** Told after a dead letter is durable, to route it (redrive, hold, escalate). */
  deadLettered(entry: NewDeadLetter): void;
  warn(message: string, err: unknown): void;
}

/**
 * How one execution ended. `lease-lost` and `interrupted` end the execution,
 * never the run: another execution resumes it from the journal (after its
 * lease, or after a short backoff when the store failed).
 */
export type ExecutionOutcome =
  | "completed"
  | "failed"
  | "parked"
  | "dead-lettered"
  | "cancelled"
  | "suspended"
  | "lease-lost"
  | "interrupted";

interface Wait {
  reason: string;
  wakeAt: number | null;
}

type CommitExtra = Omit<Commit, "runId" | "fence" | "events">;

type StopKind = "cancel" | "park" | "fail" | "lease-lost" | "interrupt";

/** Store errors that are about the commit itself, not the store's health. */
const COMMIT_VERDICTS = new Set([
  "FLOTILLA_LEASE_LOST",
  "FLOTILLA_CANCELLED",
  "FLOTILLA_PAYLOAD_REJECTED",
  "FLOTILLA_NOT_FOUND",
]);

/** Backoff before an interrupted run may be claimed again: doubling, capped, full jitter. */
function interruptBackoffMs(consecutive: number): number {
  return Math.round(Math.random() * Math.min(30_000, 200 * 2 ** Math.min(consecutive, 10)));
}

/**
 * One attempt at running a claimed run: replays the agent function against
 * the journal, performs new steps, and ends it in exactly one way (completed,
 * failed, parked, cancelled, suspended, or abandoned after losing its lease).
 */
export class Execution {
  readonly controller = new AbortController();
  private index!: JournalIndex;
  private active = 0;
  private readonly waits = new Set<Wait>();
  private stopping: { kind: StopKind; error: FlotillaError } | undefined;
  private closed = false;
  private finish!: (outcome: ExecutionOutcome) => void;
  private checkScheduled = false;
  private created: Record<string, Json> = {};
  private guard: LoopGuard | undefined;
  private limits: BudgetLimits = {};
  /**
   * Until when this worker can prove it holds the lease (last successful
   * claim or renewal plus the lease, less a margin). Past it the execution
   * starts no LLM call, tool or reconcile: another worker may own the run.
   */
  private leaseValidUntil: number;
  /** Reserves worst-case LLM cost; undefined when no budget limits cost, so the hot path skips it. */
  reserver: BudgetReserver | undefined;

  constructor(
    readonly host: ExecutionHost,
    readonly run: ClaimedRun,
    leaseValidUntil = Number.POSITIVE_INFINITY,
  ) {
    this.leaseValidUntil = leaseValidUntil;
  }

  /** A renewal succeeded: the lease is provably held until `until`. */
  confirmLease(until: number): void {
    this.leaseValidUntil = Math.max(this.leaseValidUntil, until);
  }

  /**
   * Self-fencing: throws (and gives the run up) once the lease can no longer
   * be proven, so a paused or partitioned worker does not act beside the
   * worker that took the run over.
   */
  checkLease(): void {
    if (this.fenceIfExpired()) throw new LeaseLostError(this.run.id);
  }

  /** Gives the run up (aborting what is in flight) once the lease cannot be proven; true if so. */
  fenceIfExpired(): boolean {
    // Leases are wall-clock time on the store's side too, whatever clock the runtime was given.
    if (Date.now() < this.leaseValidUntil) return false;
    this.stop("lease-lost", new LeaseLostError(this.run.id));
    return true;
  }

  get runId(): string {
    return this.run.id;
  }

  get journal(): JournalIndex {
    return this.index;
  }

  /** The run's absolute deadline, fixed when it was created (children inherit their parent's). */
  get deadline(): number | undefined {
    return typeof this.created.deadline === "number" ? this.created.deadline : undefined;
  }

  /** The run's input, as patched by the last redrive that changed it. */
  get input(): unknown {
    return "input" in this.index.patch ? this.index.patch.input : this.run.input;
  }

  /** The root of this run's tree: children draw from its budget. */
  get root(): string {
    return typeof this.created.root === "string" ? this.created.root : this.run.id;
  }

  /** The budget journaled with this run's creation, with any redrive patch applied. */
  get budget(): RunBudget | undefined {
    const own = runBudgetOf(this.created);
    if (!own && !this.index.patch.budget) return undefined;
    return {
      root: own?.root ?? this.root,
      startedAt: own?.startedAt ?? this.run.createdAt,
      limits: this.limits,
    };
  }

  /** What a child run journals at creation: its root, its budget and the chain of agents above it. */
  childFacts(): Record<string, Json> {
    const budget = this.budget;
    return {
      root: this.root,
      // Kept even when this agent opted out of the detectors, so a cycle through it is still seen.
      lineage: [...this.lineage(), this.run.agent],
      ...(budget ? { budget: budget as unknown as Json } : {}),
    };
  }

  /** Runs to one outcome; never rejects. */
  async execute(): Promise<ExecutionOutcome> {
    try {
      this.index = new JournalIndex(
        await this.viaStore(() => this.host.store.readJournal(this.run.id)),
      );
      const created = this.index.events.find((e) => e.type === "run.created")?.data;
      if (created && typeof created === "object" && !Array.isArray(created)) this.created = created;
      if (this.run.cancelRequested) return await this.finalizeCancelled();
      const agent = this.host.agentByName(this.run.agent);
      if (!agent)
        throw new FlotillaError(
          "FLOTILLA_UNKNOWN_AGENT",
          `no agent '${this.run.agent}' is registered`,
        );
      this.armGuards();
      await this.write([{ type: "run.resumed", data: { worker: this.host.workerId } }]);
      this.armDeadline();
      const outcome = new Promise<ExecutionOutcome>((resolve) => (this.finish = resolve));
      const ctx = new RunContext(this, "", this.controller.signal);
      Promise.resolve()
        .then(() => agent.fn(ctx, this.input))
        .then(
          (value) => this.onSettled({ ok: true, value }),
          (error: unknown) => this.onSettled({ ok: false, error }),
        );
      return await outcome;
    } catch (err) {
      return this.onStartFailure(err);
    }
  }

  private async onStartFailure(err: unknown): Promise<ExecutionOutcome> {
    if (isFlotillaError(err, "FLOTILLA_LEASE_LOST")) return "lease-lost";
    if (isFlotillaError(err, "FLOTILLA_STORE_FAULT")) return this.interrupted(err);
    return this.finalize("failed", serializeError(err)).catch((e: unknown) =>
      isFlotillaError(e, "FLOTILLA_STORE_FAULT") ? this.interrupted(e) : ("lease-lost" as const),
    );
  }

  /**
   * A store call outside a commit (a read, an effect-key claim): its failure
   * is an infrastructure fault that abandons this execution, never a step or
   * run outcome.
   */
  async viaStore<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isFlotillaError(err, "FLOTILLA_STORE_FAULT")) throw err;
      const fault = new StoreFaultError(this.run.id, err);
      this.stop("interrupt", fault);
      throw fault;
    }
  }

  /** Agent names from the root run to this run's parent, journaled at creation. */
  private lineage(): string[] {
    const l = this.created.lineage;
    return Array.isArray(l) ? l.filter((a): a is string => typeof a === "string") : [];
  }

  private armGuards(): void {
    const thresholds = this.host.loopThresholds(this.run.agent);
    if (thresholds)
      this.guard = new LoopGuard(this.run.id, thresholds, this.lineage(), this.run.agent);
    const own = runBudgetOf(this.created);
    this.limits = { ...own?.limits, ...(this.index.patch.budget as BudgetLimits | undefined) };
    const options = this.host.budgets;
    const tenant = this.run.tenant ?? "default";
    const scopes = [
      { scope: `run:${this.root}`, limits: this.limits },
      { scope: `tenant:${tenant}`, limits: options?.tenants?.[tenant] },
      { scope: "global", limits: options?.global },
    ]
      .filter((s) => s.limits?.usd !== undefined || s.limits?.tokens !== undefined)
      .map((s) => ({
        scope: s.scope,
        ...(s.limits?.usd !== undefined ? { usd: s.limits.usd } : {}),
        ...(s.limits?.tokens !== undefined ? { tokens: s.limits.tokens } : {}),
      }));
    if (scopes.length === 0) return;
    const velocity = new CostVelocity(
      this.limits.usdPerMinute,
      () => this.host.clock.now(),
      (usd) => {
        this.host.warn(
          `run ${this.run.id} is spending fast`,
          `$${usd.toFixed(4)} in the last minute`,
        );
        void this.write([
          {
            type: "budget.alarm",
            data: { usdLastMinute: usd, limit: this.limits.usdPerMinute ?? null },
          },
        ]).catch(() => undefined);
      },
    );
    const store = this.host.store;
    this.reserver = new BudgetReserver(
      {
        // The ledger is the store too: its failure abandons the execution, it never fails the step.
        reserveBudget: (r) => this.viaStore(() => store.reserveBudget(r)),
        settleBudget: (id, scopes, spent) =>
          this.viaStore(() => store.settleBudget(id, scopes, spent)),
      },
      this.run.id,
      scopes,
      options?.prices ?? {},
      options?.defaultMaxTokens ?? 4096,
      options?.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS,
      (usd) => velocity.record(usd),
    );
  }

  /**
   * Checks a step against the loop detectors and the run's step and wall-time
   * budgets. A trip stops the run (agent code cannot catch its way past it).
   */
  watch(rec: StepRecord | undefined, fp: string | undefined, isNew = !rec?.outcome): void {
    try {
      if (fp && this.guard && (rec === undefined || rec.epoch === this.index.redrives))
        this.guard.observe(fp, isNew);
      if (rec === undefined) this.checkStepBudget();
    } catch (err) {
      if (err instanceof FlotillaError) this.stop("fail", err);
      throw err;
    }
  }

  /** A step's value, for the no-progress detector; `effect` marks a committed effect. */
  progress(value: unknown, effect = false): void {
    this.guard?.outcome(value, effect);
  }

  /** Refuses a new child that would close an agent ping-pong cycle. */
  checkSpawn(child: string): void {
    try {
      this.guard?.checkSpawn(child);
    } catch (err) {
      if (err instanceof FlotillaError) this.stop("fail", err);
      throw err;
    }
  }

  private checkStepBudget(): void {
    const { steps, wallMs } = this.limits;
    if (steps !== undefined && this.index.steps.size >= steps)
      throw new BudgetExhaustedError(
        `run:${this.run.id}`,
        "steps",
        steps,
        1,
        this.index.steps.size,
      );
    const startedAt = this.budget?.startedAt;
    if (wallMs !== undefined && startedAt !== undefined) {
      const used = this.host.clock.now() - startedAt;
      if (used > wallMs)
        throw new BudgetExhaustedError(`run:${this.root}`, "wall ms", wallMs, 0, used);
    }
  }

  private armDeadline(): void {
    const deadline = this.deadline;
    if (deadline === undefined) return;
    const fail = () =>
      this.stop("fail", new DeadlineExceededError(`run ${this.run.id}`, deadline, "has passed"));
    const left = deadline - this.host.clock.now();
    if (left <= 0) return fail();
    const timer = setLongTimeout(fail, left);
    timer.unref();
    this.controller.signal.addEventListener("abort", () => timer.clear(), { once: true });
  }

  /** Asks the run to stop; it finalizes once its code has unwound (or after the grace period). */
  stop(kind: StopKind, error: FlotillaError): void {
    if (this.stopping || this.closed) return;
    this.stopping = { kind, error };
    this.controller.abort(error);
    // Giving the run up needs nothing from agent code (its steps never settle now): end at once.
    const wait = this.givingUp ? 0 : this.host.stopGraceMs;
    const timer = setTimeout(() => this.onSettled({ ok: false, error }), wait);
    timer.unref();
  }

  /** True once this execution is giving its run up (lease lost, store fault): it starts nothing more. */
  get givingUp(): boolean {
    const kind = this.stopping?.kind;
    return kind === "lease-lost" || kind === "interrupt";
  }

  cancel(reason = "cancelled"): void {
    this.stop("cancel", new CancelledError(this.run.id, reason));
  }

  // ---- step protocol -----------------------------------------------------

  /**
   * Enters a step: the context assigns its id; this checks the
   * journal agrees on what this step is, and counts it as active work.
   */
  enter(
    ctx: RunContext,
    step: string,
    kind: StepKind,
    name: string,
    whenAborted = false,
  ): StepRecord | undefined {
    // An effect step still enters after a cancel, so the refusal is journaled as "never started";
    // an execution giving up its run (lease, store fault) journals nothing more.
    if (!whenAborted || this.closed || this.givingUp) this.assertOpen(ctx.signal);
    this.checkLease();
    const rec = this.index.get(step);
    if (rec && (rec.kind !== kind || rec.name !== name)) {
      const err = new NonDeterminismError(this.run.id, step, rec, { kind, name });
      this.stop("fail", err);
      throw err;
    }
    this.active++;
    return rec;
  }

  leave(): void {
    this.active--;
    this.scheduleCheck();
  }

  assertOpen(signal: AbortSignal): void {
    if (this.closed) throw new CancelledError(this.run.id, "this execution has ended");
    if (signal.aborted)
      throw signal.reason instanceof Error ? signal.reason : new CancelledError(this.run.id);
  }

  /** Journals events (and projections) under this execution's lease. */
  async write(
    events: NewEvent[],
    extra: CommitExtra = {},
    requireNotCancelled = false,
  ): Promise<void> {
    if (this.closed) throw new CancelledError(this.run.id, "this execution has ended");
    await this.commit(events, extra, requireNotCancelled);
  }

  /**
   * Writes under the lease. A verdict on the commit itself (lease lost,
   * cancel requested, payload refused) is rethrown for the step to handle;
   * any other store error is an infrastructure fault: the execution is
   * abandoned (its steps see a StoreFaultError, and no new step starts) and
   * the run resumes from its journal, where an ambiguous commit either
   * landed or did not, never twice: this execution writes nothing more.
   */
  private async commit(
    events: NewEvent[],
    extra: CommitExtra,
    requireNotCancelled = false,
  ): Promise<void> {
    try {
      await this.host.store.commit({
        runId: this.run.id,
        fence: {
          leaseToken: this.run.leaseToken,
          ...(requireNotCancelled ? { requireNotCancelled } : {}),
        },
        events,
        ...extra,
      });
    } catch (err) {
      if (isFlotillaError(err, "FLOTILLA_LEASE_LOST")) this.stop("lease-lost", err);
      if (isFlotillaError(err) && COMMIT_VERDICTS.has(err.code)) throw err;
      const fault = new StoreFaultError(this.run.id, err);
      this.stop("interrupt", fault);
      throw fault;
    }
    if (extra.blobs) this.host.payloads.stored(extra.blobs);
    for (const e of events) this.index.apply(e);
  }

  /**
   * Called from inside a step that must wait: the step stops counting as
   * active work, and the promise settles only if its branch is aborted (a
   * woken run is replayed from the journal instead).
   */
  block(signal: AbortSignal, reason: string, wakeAt: number | null): Promise<never> {
    const wait: Wait = { reason, wakeAt };
    this.waits.add(wait);
    this.active--;
    this.scheduleCheck();
    return new Promise<never>((_, reject) => {
      const onAbort = () => {
        this.waits.delete(wait);
        this.active++;
        reject(signal.reason instanceof Error ? signal.reason : new CancelledError(this.run.id));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    // After every pending microtask: agent code continuing from a step starts its next step first.
    setImmediate(() => {
      this.checkScheduled = false;
      if (this.active === 0 && this.waits.size > 0 && !this.closed && !this.stopping)
        void this.suspend();
    });
  }

  private async suspend(): Promise<void> {
    const waits = [...this.waits];
    const wakeTimes = waits.map((w) => w.wakeAt).filter((t): t is number => t !== null);
    // A waiting run wakes at its deadline at the latest, to fail then rather than wait forever.
    if (this.deadline !== undefined) wakeTimes.push(this.deadline);
    const wakeAt = wakeTimes.length ? Math.min(...wakeTimes) : null;
    try {
      await this.write(
        [{ type: "run.suspended", data: { waitingFor: waits.map((w) => w.reason), wakeAt } }],
        {
          status: { status: "waiting", wakeAt },
          release: true,
        },
      );
      this.close("suspended");
    } catch {
      this.close("lease-lost");
    }
  }

  // ---- ending --------------------------------------------------------------

  private onSettled(result: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    if (this.closed) return;
    const stop = this.stopping;
    let ending: Promise<ExecutionOutcome>;
    if (stop?.kind === "lease-lost") ending = Promise.resolve("lease-lost");
    else if (stop?.kind === "interrupt") ending = this.interrupted(stop.error);
    else if (stop?.kind === "cancel") ending = this.finalizeCancelled();
    else if (stop?.kind === "park") ending = this.finalize("parked", stop.error.toJSON());
    else if (stop?.kind === "fail") ending = this.finalize("failed", stop.error.toJSON());
    else if (result.ok) ending = this.finalize("completed", undefined, result.value);
    else ending = this.finalize("failed", serializeError(result.error));
    this.closed = true;
    void ending
      .catch((err: unknown) =>
        isFlotillaError(err, "FLOTILLA_STORE_FAULT")
          ? this.interrupted(err)
          : ("lease-lost" as const),
      )
      .then((o) => this.close(o));
  }

  /**
   * Gives the run back after a store fault: journals why and makes it
   * claimable again after a backoff, in one fenced commit. When the store
   * refuses that too, the lease expires and any worker resumes the run.
   */
  private async interrupted(fault: FlotillaError): Promise<ExecutionOutcome> {
    this.closed = true;
    const events = this.index?.events ?? [];
    let consecutive = 0;
    for (let i = events.length - 1; i >= 0 && events[i]?.type !== "step.completed"; i--)
      if (events[i]?.type === "run.interrupted") consecutive++;
    const wakeAt = this.host.clock.now() + interruptBackoffMs(consecutive);
    const cause = fault.cause === undefined ? fault.toJSON() : serializeError(fault.cause);
    await this.host.store
      .commit({
        runId: this.run.id,
        fence: { leaseToken: this.run.leaseToken },
        events: [
          {
            type: "run.interrupted",
            data: { worker: this.host.workerId, error: cause as unknown as Json, wakeAt },
          },
        ],
        status: { status: "waiting", wakeAt },
        release: true,
      })
      .catch(() => undefined);
    return "interrupted";
  }

  private close(outcome: ExecutionOutcome): void {
    this.closed = true;
    if (!this.controller.signal.aborted && outcome !== "suspended") this.controller.abort();
    if (outcome !== "lease-lost" && outcome !== "suspended" && outcome !== "interrupted")
      this.host.settled(this.run.id);
    this.finish?.(outcome);
  }

  /**
   * Ends the run. A failure whose cause has a dead-letter class ends it
   * dead-lettered instead, with its context captured in the same commit; a
   * parked run stays parked (`flotilla resolve` decides it) and is listed in
   * the queue as effect-outcome-unknown.
   */
  private async finalize(
    status: "completed" | "failed" | "parked",
    error: SerializedError | undefined,
    value?: unknown,
  ): Promise<ExecutionOutcome> {
    let result: Json | undefined;
    try {
      result = storableCopy(
        value as Json | undefined,
        `the return value of agent '${this.run.agent}'`,
      );
    } catch (err) {
      if (!isFlotillaError(err, "FLOTILLA_PAYLOAD_REJECTED")) throw err;
      return this.finalize("failed", err.toJSON());
    }
    const cls = status === "completed" ? undefined : classOf(error);
    if (cls && status === "failed") return this.finalizeDeadLettered(cls, error ?? null);
    const entry = cls && status === "parked" ? await this.capture(cls, error ?? null) : undefined;
    const type = `run.${status}`;
    const data: Json =
      status === "completed" ? { value: result ?? null } : { error: error as unknown as Json };
    await this.commitFinal(
      [{ type, data }],
      {
        status,
        ...(result !== undefined ? { result } : {}),
        error: error ?? null,
        wakeAt: null,
      },
      entry,
    );
    if (entry) this.host.deadLettered(entry);
    return status;
  }

  private async capture(
    cls: DeadLetterClass,
    error: SerializedError | null,
  ): Promise<NewDeadLetter> {
    const events = await this.viaStore(() => this.host.store.readJournal(this.run.id));
    return captureDeadLetter({ ...this.run, input: this.input as Json }, events, cls, error);
  }

  private async finalizeDeadLettered(
    cls: DeadLetterClass,
    error: SerializedError | null,
  ): Promise<ExecutionOutcome> {
    const entry = await this.capture(cls, error);
    await this.commitFinal(
      [
        {
          type: "run.dead-lettered",
          data: { class: cls, deadLetterId: entry.id, error: error as unknown as Json },
        },
      ],
      { status: "dead-lettered", error, wakeAt: null },
      entry,
    );
    this.host.deadLettered(entry);
    return "dead-lettered";
  }

  private async finalizeCancelled(): Promise<ExecutionOutcome> {
    const { commit } = await this.viaStore(() =>
      cancellationCommit(
        this.host.store,
        { ...this.run, input: this.input as Json },
        { leaseToken: this.run.leaseToken },
      ),
    );
    const { runId: _runId, fence: _fence, events, ...extra } = commit;
    await this.commit(events, extra);
    if (commit.deadLetter) this.host.deadLettered(commit.deadLetter);
    return "cancelled";
  }

  private async commitFinal(
    events: NewEvent[],
    status: NonNullable<Commit["status"]>,
    deadLetter?: NewDeadLetter,
  ): Promise<void> {
    await this.commit(events, {
      status,
      release: true,
      ...(this.run.parentId ? { wake: [this.run.parentId] } : {}),
      ...(deadLetter ? { deadLetter } : {}),
    });
  }
}
