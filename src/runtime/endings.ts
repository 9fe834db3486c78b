import {
  isFlotillaError,
  serializeError,
  type FlotillaError,
  type SerializedError,
} from "../core/errors.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { captureDeadLetter } from "../deadletter/capture.js";
import { classOf, type DeadLetterClass } from "../deadletter/taxonomy.js";
import type { NewDeadLetter } from "../deadletter/types.js";
import { cancellationCommit } from "../saga/cancel.js";
import type { ClaimedRun, Commit, NewEvent, RunRecord } from "../store/types.js";
import { redactDeadLetter } from "../telemetry/redaction/commit.js";
import { redactorOf } from "../telemetry/redaction/Redactor.js";
import type { CommitExtra, Execution, ExecutionOutcome } from "./Execution.js";

/** Backoff before an interrupted run may be claimed again: doubling, capped, full jitter. */
function interruptBackoffMs(consecutive: number): number {
  return Math.round(Math.random() * Math.min(30_000, 200 * 2 ** Math.min(consecutive, 10)));
}

/** Why an execution was asked to stop: it decides how the run ends once its agent code has unwound. */
export type StopKind = "cancel" | "park" | "fail" | "lease-lost" | "interrupt";

export interface Stop {
  kind: StopKind;
  error: FlotillaError;
}

/** What the agent function returned or threw. */
export type AgentResult = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * How an execution ends its run, each in one fenced commit: completed,
 * failed (dead-lettered when the cause has a class), parked, cancelled with
 * its receipt, or handed back after a store fault.
 */
export class RunEnding {
  constructor(
    private readonly exec: Execution,
    /** The execution's fenced commit: no check that the execution is still open. */
    private readonly commit: (events: NewEvent[], extra: CommitExtra) => Promise<void>,
  ) {}

  /**
   * Ends the run once its agent code has settled: as the stop asked, when
   * the execution was stopped; else by what the agent returned or threw. A
   * store fault while ending hands the run back; any other failure to end it
   * means the lease is gone, and the run's next execution ends it.
   */
  after(stop: Stop | undefined, result: AgentResult): Promise<ExecutionOutcome> {
    let ending: Promise<ExecutionOutcome>;
    if (stop?.kind === "lease-lost") ending = Promise.resolve("lease-lost");
    else if (stop?.kind === "interrupt") ending = this.interrupted(stop.error);
    else if (stop?.kind === "cancel") ending = this.finalizeCancelled();
    else if (stop?.kind === "park") ending = this.finalize("parked", stop.error.toJSON());
    else if (stop?.kind === "fail") ending = this.finalize("failed", stop.error.toJSON());
    else if (result.ok) ending = this.finalize("completed", undefined, result.value);
    else ending = this.finalize("failed", serializeError(result.error));
    return ending.catch((err: unknown) =>
      isFlotillaError(err, "FLOTILLA_STORE_FAULT")
        ? this.interrupted(err)
        : ("lease-lost" as const),
    );
  }

  /**
   * Gives the run back after a store fault: journals why and makes it
   * claimable again after a backoff, in one fenced commit. When the store
   * refuses that too, the lease expires and any worker resumes the run.
   */
  async interrupted(fault: FlotillaError): Promise<ExecutionOutcome> {
    const events = this.exec.events;
    let consecutive = 0;
    for (let i = events.length - 1; i >= 0 && events[i]?.type !== "step.completed"; i--)
      if (events[i]?.type === "run.interrupted") consecutive++;
    const wakeAt = this.exec.host.clock.now() + interruptBackoffMs(consecutive);
    const cause = redactorOf(this.exec.host).value(
      fault.cause === undefined ? fault.toJSON() : serializeError(fault.cause),
    );
    await this.exec.host.store
      .commit({
        runId: this.exec.run.id,
        fence: { leaseToken: this.exec.run.leaseToken },
        events: [
          {
            type: "run.interrupted",
            data: {
              worker: this.exec.host.workerId,
              error: cause as unknown as Json,
              wakeAt,
              ...(this.exec.notCalled.size > 0 ? { notCalled: [...this.exec.notCalled] } : {}),
            },
          },
        ],
        status: { status: "waiting", wakeAt },
        release: true,
      })
      .catch(() => undefined);
    return "interrupted";
  }

  /**
   * Ends the run. A failure whose cause has a dead-letter class ends it
   * dead-lettered instead, with its context captured in the same commit; a
   * parked run stays parked (`flotilla resolve` decides it) and is listed in
   * the queue as effect-outcome-unknown.
   */
  async finalize(
    status: "completed" | "failed" | "parked",
    error: SerializedError | undefined,
    value?: unknown,
  ): Promise<ExecutionOutcome> {
    let result: Json | undefined;
    try {
      result = storableCopy(
        value as Json | undefined,
        `the return value of agent '${this.exec.run.agent}'`,
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
    if (entry) this.exec.host.deadLettered(entry);
    return status;
  }

  private async capture(
    cls: DeadLetterClass,
    error: SerializedError | null,
  ): Promise<NewDeadLetter> {
    const events = await this.exec.viaStore(() =>
      this.exec.host.store.readJournal(this.exec.run.id),
    );
    // Redacted before routing too: a route may hand the entry to a person or another system.
    return redactDeadLetter(
      redactorOf(this.exec.host),
      captureDeadLetter({ ...this.exec.run, input: this.exec.input as Json }, events, cls, error),
    );
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
    this.exec.host.deadLettered(entry);
    return "dead-lettered";
  }

  async finalizeCancelled(): Promise<ExecutionOutcome> {
    const { commit } = await this.exec.viaStore(() =>
      cancellationCommit(
        this.exec.host.store,
        { ...this.exec.run, input: this.exec.input as Json },
        { leaseToken: this.exec.run.leaseToken },
      ),
    );
    const { runId: _runId, fence: _fence, events, ...extra } = commit;
    await this.commit(events, extra);
    const entry = commit.deadLetter;
    if (entry) this.exec.host.deadLettered(redactDeadLetter(redactorOf(this.exec.host), entry));
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
      ...(this.exec.run.parentId ? { wake: [this.exec.run.parentId] } : {}),
      ...(deadLetter ? { deadLetter } : {}),
    });
  }
}

/** The run as an execution's last commit left it, when that commit settled it (ended or parked it). */
export function settledRecord(run: ClaimedRun, settledAs: Commit["status"]): RunRecord | undefined {
  if (!settledAs) return undefined;
  const { leaseToken: _, ...record } = run;
  return {
    ...record,
    status: settledAs.status,
    result: settledAs.result,
    error: settledAs.error ?? null,
    wakeAt: null,
    leaseOwner: null,
    leaseExpiresAt: null,
  };
}
