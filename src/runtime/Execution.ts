import type { Clock } from "../core/clock.js";
import {
  DeadlineExceededError,
  CancelledError,
  FlotillaError,
  NonDeterminismError,
  isFlotillaError,
  serializeError,
  type SerializedError,
} from "../core/errors.js";
import type { Json } from "../core/json.js";
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
}

export type ExecutionOutcome =
  "completed" | "failed" | "parked" | "cancelled" | "suspended" | "lease-lost";

interface Wait {
  reason: string;
  wakeAt: number | null;
}

type CommitExtra = Omit<Commit, "runId" | "fence" | "events">;

type StopKind = "cancel" | "park" | "fail" | "lease-lost";

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

  constructor(
    readonly host: ExecutionHost,
    readonly run: ClaimedRun,
  ) {}

  get runId(): string {
    return this.run.id;
  }

  get journal(): JournalIndex {
    return this.index;
  }

  /** The run's absolute deadline, fixed when it was created (children inherit their parent's). */
  get deadline(): number | undefined {
    const created = this.index.events.find((e) => e.type === "run.created")?.data as {
      deadline?: number;
    } | null;
    return typeof created?.deadline === "number" ? created.deadline : undefined;
  }

  /** Runs to one outcome; never rejects. */
  async execute(): Promise<ExecutionOutcome> {
    try {
      this.index = new JournalIndex(await this.host.store.readJournal(this.run.id));
      if (this.run.cancelRequested) return await this.finalizeCancelled();
      const agent = this.host.agentByName(this.run.agent);
      if (!agent)
        throw new FlotillaError(
          "FLOTILLA_UNKNOWN_AGENT",
          `no agent '${this.run.agent}' is registered`,
        );
      await this.write([{ type: "run.resumed", data: { worker: this.host.workerId } }]);
      this.armDeadline();
      const outcome = new Promise<ExecutionOutcome>((resolve) => (this.finish = resolve));
      const ctx = new RunContext(this, "", this.controller.signal);
      Promise.resolve()
        .then(() => agent.fn(ctx, this.run.input))
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
    return this.finalize("failed", serializeError(err)).catch(() => "lease-lost" as const);
  }

  private armDeadline(): void {
    const deadline = this.deadline;
    if (deadline === undefined) return;
    const fail = () =>
      this.stop("fail", new DeadlineExceededError(`run ${this.run.id}`, deadline, "has passed"));
    const left = deadline - this.host.clock.now();
    if (left <= 0) return fail();
    const timer = setTimeout(fail, left);
    timer.unref();
    this.controller.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }

  /** Asks the run to stop; it finalizes once its code has unwound (or after the grace period). */
  stop(kind: StopKind, error: FlotillaError): void {
    if (this.stopping || this.closed) return;
    this.stopping = { kind, error };
    this.controller.abort(error);
    const timer = setTimeout(() => this.onSettled({ ok: false, error }), this.host.stopGraceMs);
    timer.unref();
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
    // An effect step still enters after a cancel, so the refusal is journaled as "never started".
    if (!whenAborted || this.closed) this.assertOpen(ctx.signal);
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
      throw err;
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
    else if (stop?.kind === "cancel") ending = this.finalizeCancelled();
    else if (stop?.kind === "park") ending = this.finalize("parked", stop.error.toJSON());
    else if (stop?.kind === "fail") ending = this.finalize("failed", stop.error.toJSON());
    else if (result.ok) ending = this.finalize("completed", undefined, result.value);
    else ending = this.finalize("failed", serializeError(result.error));
    this.closed = true;
    void ending.catch(() => "lease-lost" as const).then((o) => this.close(o));
  }

  private close(outcome: ExecutionOutcome): void {
    this.closed = true;
    if (!this.controller.signal.aborted && outcome !== "suspended") this.controller.abort();
    if (outcome !== "lease-lost" && outcome !== "suspended") this.host.settled(this.run.id);
    this.finish?.(outcome);
  }

  private async finalize(
    status: "completed" | "failed" | "parked",
    error: SerializedError | undefined,
    value?: unknown,
  ): Promise<ExecutionOutcome> {
    const result = value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as Json);
    const type = `run.${status}`;
    const data: Json =
      status === "completed" ? { value: result ?? null } : { error: error as unknown as Json };
    await this.commitFinal([{ type, data }], {
      status,
      ...(result !== undefined ? { result } : {}),
      error: error ?? null,
      wakeAt: null,
    });
    return status;
  }

  private async finalizeCancelled(): Promise<ExecutionOutcome> {
    const { commit } = await cancellationCommit(this.host.store, this.run, {
      leaseToken: this.run.leaseToken,
    });
    const { runId: _runId, fence: _fence, events, ...extra } = commit;
    await this.commit(events, extra);
    return "cancelled";
  }

  private async commitFinal(
    events: NewEvent[],
    status: NonNullable<Commit["status"]>,
  ): Promise<void> {
    await this.commit(events, {
      status,
      release: true,
      ...(this.run.parentId ? { wake: [this.run.parentId] } : {}),
    });
  }
}
