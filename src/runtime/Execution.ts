import type { AbortState } from "../core/abort.js";
import {
  DeadlineExceededError,
  CancelledError,
  FlotillaError,
  LeaseLostError,
  NonDeterminismError,
  StoreFaultError,
  isFlotillaError,
} from "../core/errors.js";
import type { Json } from "../core/json.js";
import { setLongTimeout, type LongTimeout } from "../core/timers.js";
import type { BudgetReserver } from "../deadletter/budgets.js";
import type { StepSeen } from "../deadletter/loops.js";
import { JournalIndex, type StepKind, type StepRecord } from "../journal/JournalIndex.js";
import {
  settles,
  type ClaimedRun,
  type Commit,
  type JournalEvent,
  type NewEvent,
} from "../store/types.js";
import type { ExecutionHost } from "./executionHost.js";
import { versionsAtStep } from "./agentVersions.js";
import { performDeferred } from "../effects/deferred.js";
import { RunEnding, settledRecord, type AgentResult, type Stop, type StopKind } from "./endings.js";
import { RunGuards } from "./guards.js";
import { LeaseFence } from "./leaseFence.js";
import { RunContext } from "./RunContext.js";
import { RunFacts } from "./runFacts.js";
import { Suspension } from "./suspension.js";
import { redactCommit } from "../telemetry/redaction/commit.js";
import { redactorOf } from "../telemetry/redaction/Redactor.js";
import { NO_TRACE, type RunTrace } from "../telemetry/tracing/ExecutionTrace.js";

export type { ExecutionHost };

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

export type CommitExtra = Omit<Commit, "runId" | "fence" | "events">;

/** Store errors that are about the commit itself, not the store's health. */
const COMMIT_VERDICTS = new Set([
  "FLOTILLA_LEASE_LOST",
  "FLOTILLA_CANCELLED",
  "FLOTILLA_PAYLOAD_REJECTED",
  "FLOTILLA_NOT_FOUND",
]);

/**
 * One attempt at running a claimed run: replays the agent function against
 * the journal, performs new steps, and ends it in exactly one way (completed,
 * failed, parked, cancelled, suspended, or abandoned after losing its lease).
 */
export class Execution {
  readonly controller = new AbortController();
  private index!: JournalIndex;
  private stopping: Stop | undefined;
  private closed = false;
  private finish!: (outcome: ExecutionOutcome) => void;
  /** What the journal fixed at creation; read with the journal (nothing is fixed before). */
  private facts: RunFacts | undefined;
  private guards!: RunGuards;
  /** Past it the execution starts no LLM call, tool or reconcile: another worker may own the run. */
  private readonly fence: LeaseFence;
  /**
   * Effect steps whose write before the call (intent, attempt) failed with a
   * store fault: this execution never called their tool. Journaled when the
   * run is interrupted, so the next execution may call it instead of parking
   * an effect that certainly did not happen.
   */
  readonly notCalled = new Set<string>();
  /** Cleared when the execution ends, suspended included: a waiting run holds no timer or memory. */
  private deadlineTimer: LongTimeout | undefined;
  /** The status this execution's commit settled the run in (it ended or parked). */
  private settledAs: Commit["status"];
  /** This execution's span and metrics (from when its journal is loaded until it ends). */
  trace: RunTrace = NO_TRACE;
  private readonly ending = new RunEnding(this, (events, extra) => this.commit(events, extra));
  private readonly suspension = new Suspension({
    runId: () => this.run.id,
    deadline: () => this.deadline,
    mayStillSuspend: () => !this.closed && !this.stopping,
    write: (events, extra) => this.write(events, extra),
    closed: (outcome) => this.close(outcome),
  });

  constructor(
    readonly host: ExecutionHost,
    readonly run: ClaimedRun,
    leaseValidUntil = Number.POSITIVE_INFINITY,
    /** The run's journal as its claim or creation returned it, this execution's `run.resumed` included. */
    private readonly loaded: JournalEvent[],
  ) {
    this.fence = new LeaseFence(leaseValidUntil, () => this.fenceIfExpired());
  }

  /** A renewal succeeded: the lease is provably held until `until`. */
  confirmLease(until: number): void {
    this.fence.confirm(until);
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
    if (!this.fence.expired) return false;
    this.stop("lease-lost", new LeaseLostError(this.run.id));
    return true;
  }

  get runId(): string {
    return this.run.id;
  }

  /** The journal as loaded and written so far (nothing before it is loaded). */
  get events(): readonly JournalEvent[] {
    return this.index?.events ?? [];
  }

  get journal(): JournalIndex {
    return this.index;
  }

  /** The run's absolute deadline, fixed when it was created (children inherit their parent's). */
  get deadline(): number | undefined {
    return this.facts?.deadline;
  }

  /** The run's input, as patched by the last redrive that changed it. */
  get input(): unknown {
    return this.facts ? this.facts.input : this.run.input;
  }

  /** What a child run journals at creation: its root, its budget and the chain of agents above it. */
  childFacts(): Record<string, Json> {
    return { ...(this.facts as RunFacts).childFacts(), ...this.trace.childFacts() };
  }

  /** Runs to one outcome; never rejects. */
  async execute(): Promise<ExecutionOutcome> {
    try {
      this.index = new JournalIndex(this.loaded);
      this.facts = RunFacts.of(this.run, this.index);
      if (this.run.cancelRequested) return await this.ending.finalizeCancelled();
      const agent = this.host.agentByName(this.run.agent);
      if (!agent)
        throw new FlotillaError(
          "FLOTILLA_UNKNOWN_AGENT",
          `no agent '${this.run.agent}' is registered`,
        );
      this.armGuards(this.facts);
      this.trace = this.host.telemetry?.execution(this) ?? NO_TRACE;
      this.armDeadline();
      const outcome = new Promise<ExecutionOutcome>((resolve) => (this.finish = resolve));
      const ctx = new RunContext(this, "", this.controller.signal);
      Promise.resolve()
        .then(() => this.trace.run(() => agent.fn(ctx, this.input)))
        // Deferred effects come last, once everything else succeeded.
        .then((value) => performDeferred(this, ctx, value))
        .then(
          (value) => this.onSettled({ ok: true, value }),
          (error: unknown) => this.onSettled({ ok: false, error }),
        );
      return await outcome;
    } catch (err) {
      return this.onStartFailure(err);
    }
  }

  private onStartFailure(err: unknown): Promise<ExecutionOutcome> {
    // Ended here: a stop that raced the failure must not end the run a second time.
    this.closed = true;
    const stop: Stop | undefined = isFlotillaError(err, "FLOTILLA_LEASE_LOST")
      ? { kind: "lease-lost", error: err }
      : isFlotillaError(err, "FLOTILLA_STORE_FAULT")
        ? { kind: "interrupt", error: err }
        : undefined;
    return this.ending.after(stop, { ok: false, error: err });
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

  private armGuards(facts: RunFacts): void {
    this.guards = new RunGuards({
      host: this.host,
      runId: this.run.id,
      agent: this.run.agent,
      tenant: this.run.tenant,
      root: facts.root,
      journal: this.index,
      lineage: facts.lineage,
      limits: facts.limits,
      startedAt: facts.budget?.startedAt,
      viaStore: <T>(call: () => Promise<T>) => this.viaStore(call),
      write: (events) => this.write(events),
      trip: (error) => this.stop("fail", error),
    });
  }

  /** Reserves worst-case LLM cost; undefined when no budget limits cost, so the hot path skips it. */
  get reserver(): BudgetReserver | undefined {
    return this.guards.reserver;
  }

  /**
   * Checks a step against the loop detectors and the run's step and wall-time
   * budgets. A trip stops the run (agent code cannot catch its way past it).
   */
  watch(rec: StepRecord | undefined, isNew = !rec?.outcome): void {
    this.guards.observe(rec, isNew);
  }

  /** A step's request and outcome, for the loop detectors; the step is journaled, a trip stops the run at it. */
  progress(rec: StepRecord | undefined, seen: StepSeen): void {
    this.guards.outcome(rec, seen);
  }

  /** Refuses a new child that would close an agent ping-pong cycle. */
  checkSpawn(child: string): void {
    this.guards.checkSpawn(child);
  }

  private armDeadline(): void {
    const deadline = this.deadline;
    if (deadline === undefined) return;
    const fail = () =>
      this.stop("fail", new DeadlineExceededError(`run ${this.run.id}`, deadline, "has passed"));
    const left = deadline - this.host.clock.now();
    if (left <= 0) return fail();
    this.deadlineTimer = setLongTimeout(fail, left).unref();
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

  /** True while this execution runs its agent: nothing has stopped, suspended or ended it. */
  get running(): boolean {
    return !this.closed && this.stopping === undefined && !this.controller.signal.aborted;
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
    if (!whenAborted || this.closed || this.givingUp) this.assertOpen(ctx.abortState);
    this.checkLease();
    const rec = this.index.get(step);
    if (rec && (rec.kind !== kind || rec.name !== name)) {
      const err = new NonDeterminismError(
        this.run.id,
        step,
        rec,
        { kind, name },
        versionsAtStep(
          this.events,
          step,
          this.run.agent,
          this.host.agentByName(this.run.agent)?.version ?? null,
        ),
      );
      this.stop("fail", err);
      throw err;
    }
    this.suspension.working();
    this.trace.stepEntered(step, rec);
    return rec;
  }

  leave(): void {
    this.suspension.done();
  }

  /** Throws unless the execution is open and `signal` (or a step's AbortState) not aborted. */
  assertOpen(signal: AbortState): void {
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
    // What a step concludes after its execution gave the run up is not to be trusted: its calls
    // were aborted by the stop, not answered. The next execution settles them from the journal.
    if (this.givingUp && this.stopping) throw this.stopping.error;
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
    const { leaseToken } = this.run;
    // The in-memory journal below holds what the store holds: replay sees what this execution saw.
    const commit = redactCommit(redactorOf(this.host), {
      runId: this.run.id,
      fence: requireNotCancelled ? { leaseToken, requireNotCancelled } : { leaseToken },
      events,
      ...extra,
    });
    try {
      await this.host.store.commit(commit);
    } catch (err) {
      if (isFlotillaError(err, "FLOTILLA_LEASE_LOST")) this.stop("lease-lost", err);
      if (isFlotillaError(err) && COMMIT_VERDICTS.has(err.code)) throw err;
      const fault = new StoreFaultError(this.run.id, err);
      this.stop("interrupt", fault);
      throw fault;
    }
    if (commit.blobs) this.host.payloads.stored(commit.blobs);
    for (const e of commit.events) this.index.apply(e);
    if (commit.status && settles(commit.status.status)) this.settledAs = commit.status;
    this.trace.stepsWritten(commit.events);
  }

  /**
   * Called from inside a step that must wait: the step stops counting as
   * active work, and the promise settles only if its branch is aborted (a
   * woken run is replayed from the journal instead).
   */
  block(signal: AbortSignal, reason: string, wakeAt: number | null): Promise<never> {
    return this.suspension.block(signal, reason, wakeAt);
  }

  // ---- ending --------------------------------------------------------------

  private onSettled(result: AgentResult): void {
    if (this.closed) return;
    const ending = this.ending.after(this.stopping, result);
    this.closed = true;
    void ending.then((o) => this.close(o));
  }

  private close(outcome: ExecutionOutcome): void {
    this.closed = true;
    this.trace.end(outcome, this.settledAs);
    this.deadlineTimer?.clear();
    this.fence.clear();
    if (!this.controller.signal.aborted && outcome !== "suspended") this.controller.abort();
    if (outcome !== "lease-lost" && outcome !== "suspended" && outcome !== "interrupted")
      this.host.settled(this.run.id, settledRecord(this.run, this.settledAs));
    this.finish?.(outcome);
  }
}
