import { FlotillaError, messageOf, type ErrorCode, type SerializedError } from "./flotillaError.js";

export * from "./flotillaError.js";
export * from "./deadLetterErrors.js";

export class InvalidArgumentError extends FlotillaError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("FLOTILLA_INVALID_ARGUMENT", message, details);
  }
}

export class NotFoundError extends FlotillaError {
  constructor(what: string, id: string) {
    super("FLOTILLA_NOT_FOUND", `${what} '${id}' does not exist`, { what, id });
  }
}

export class StoreUnavailableError extends FlotillaError {
  constructor(url: string, cause: unknown) {
    super(
      "FLOTILLA_STORE_UNAVAILABLE",
      `cannot open store '${redactUrl(url)}': ${messageOf(cause)}`,
      { url: redactUrl(url) },
      { cause },
    );
  }
}

export class StoreOwnedError extends FlotillaError {
  constructor(path: string, ownerPid: number, ownerWorker?: string) {
    super(
      "FLOTILLA_STORE_OWNED",
      (ownerWorker === undefined
        ? `the SQLite store '${path}' is owned by worker process ${ownerPid}; stop it`
        : `the SQLite store '${path}' is owned by worker ${ownerWorker} in this process; close the Flotilla instance that runs it`) +
        " (SQLite allows one worker at a time; use PostgreSQL for several workers)",
      { path, ownerPid, ...(ownerWorker === undefined ? {} : { ownerWorker }) },
    );
  }
}

export class LeaseLostError extends FlotillaError {
  constructor(runId: string) {
    super(
      "FLOTILLA_LEASE_LOST",
      `this worker no longer holds the lease on run ${runId}; another worker resumed it`,
      { runId },
    );
  }
}

/**
 * A store call failed for a reason other than the lease (connection lost,
 * database restarting, an ambiguous commit). The execution that saw it is
 * abandoned, never the run: another attempt resumes it from the journal.
 */
export class StoreFaultError extends FlotillaError {
  constructor(runId: string, cause: unknown) {
    super(
      "FLOTILLA_STORE_FAULT",
      `the store failed while run ${runId} was executing (${messageOf(cause)}); ` +
        "this execution stops and the run resumes from its journal",
      { runId },
      { cause },
    );
  }
}

/**
 * A value cannot be stored: not JSON (BigInt, a cycle, a function), a string
 * holding U+0000, or larger than the store accepts. `path` names the field.
 * Not retryable: the same value fails the same way.
 */
export class PayloadRejectedError extends FlotillaError {
  constructor(what: string, path: string, reason: string) {
    super(
      "FLOTILLA_PAYLOAD_REJECTED",
      `${what} cannot be stored: ${path === "" ? "the value" : path} ${reason}`,
      { what, path, reason },
    );
  }
}

/**
 * Two units of work named the same effect key with different tools or
 * arguments: reusing the first's result would be wrong, so the call is refused.
 */
export class EffectKeyConflictError extends FlotillaError {
  constructor(tool: string, key: string, holder: { runId: string; step: string }, reason: string) {
    super(
      "FLOTILLA_EFFECT_KEY_CONFLICT",
      `tool '${tool}': effect key '${key}' is already held by run ${holder.runId} (step ${holder.step}) ` +
        `${reason}; give each logical unit of work its own key`,
      { tool, key, holderRunId: holder.runId, holderStep: holder.step, reason },
    );
  }
}

/** Starting with the idempotency key of a run that failed: retry it instead of reusing it. */
export class RunKeyFailedError extends FlotillaError {
  constructor(runId: string, idempotencyKey: string) {
    super(
      "FLOTILLA_RUN_KEY_FAILED",
      `idempotency key '${idempotencyKey}' belongs to run ${runId}, which failed; ` +
        `retry it (flotilla retry ${runId} / run.retry()) rather than starting it again`,
      { runId, idempotencyKey },
    );
  }
}

/**
 * A run's idempotency key came back with another agent or another input: the
 * key names one unit of work, so handing back the run that did something else
 * would be a silent wrong answer.
 */
export class IdempotencyConflictError extends FlotillaError {
  constructor(
    idempotencyKey: string,
    holder: { runId: string; agent: string },
    given: { agent: string },
    reason: "agent" | "input",
  ) {
    super(
      "FLOTILLA_IDEMPOTENCY_CONFLICT",
      `idempotency key '${idempotencyKey}' belongs to run ${holder.runId} of agent '${holder.agent}', ` +
        (reason === "agent"
          ? `not to agent '${given.agent}'`
          : "which was started with a different input") +
        "; give each unit of work its own key (the same key with the same agent and input returns that run)",
      { idempotencyKey, runId: holder.runId, agent: holder.agent, givenAgent: given.agent, reason },
    );
  }
}

/** The agent versions a non-determinism is between, when known (see `Agent.version`). */
export interface VersionsAtStep {
  agent: string;
  /** The version whose execution journaled the step (null: before versions were recorded). */
  recorded: string | null;
  /** The version of the worker replaying it. */
  current: string | null;
}

function likelyCause(v: VersionsAtStep | undefined): string {
  const change = "The usual cause is a change to the agent's code between the run's start and now";
  if (!v) return `${change} (a deploy).`;
  const at = `agent '${v.agent}'`;
  if (v.recorded === null || v.current === null)
    return `${change}: the step was journaled before versions were recorded; this worker runs ${at} version ${v.current ?? "(unknown)"}.`;
  if (v.recorded !== v.current)
    return (
      `${change}: the step was journaled by ${at} version ${v.recorded}, this worker runs version ${v.current}. ` +
      `Keep a worker at version ${v.recorded} until its runs finish, and list a version in compatibleWith only if it replays the old journal unchanged.`
    );
  return (
    `${change}: the journal and this worker are both at ${at} version ${v.recorded}, so a change, if any, came without a new version ` +
    "(in code the agent calls, or a declared version not bumped): declare a new version with every change."
  );
}

export class NonDeterminismError extends FlotillaError {
  constructor(
    runId: string,
    step: string,
    recorded: { kind: string; name: string },
    attempted: { kind: string; name: string },
    versions?: VersionsAtStep,
  ) {
    super(
      "FLOTILLA_NONDETERMINISM",
      `run ${runId} no longer matches its journal at step ${step}: expected ${recorded.kind} ` +
        `'${recorded.name}' (journaled), got ${attempted.kind} '${attempted.name}'. ${likelyCause(versions)} ` +
        "Less often: time or randomness taken outside ctx (use ctx.now()/ctx.random()), or branching on anything but step results.",
      { runId, step, recorded, attempted, ...(versions ? { versions } : {}) },
    );
  }
}

export class CancelledError extends FlotillaError {
  constructor(runId: string, reason = "cancelled") {
    super("FLOTILLA_CANCELLED", `run ${runId} was cancelled: ${reason}`, { runId, reason });
  }
}

export class EffectOutcomeUnknownError extends FlotillaError {
  constructor(runId: string, step: string, tool: string, key: string) {
    super(
      "FLOTILLA_EFFECT_OUTCOME_UNKNOWN",
      `run ${runId} stopped inside tool '${tool}' (step ${step}, key ${key}) and cannot tell ` +
        "whether the effect happened; the run is parked until someone decides " +
        `(flotilla resolve ${runId} ${step} --committed|--retry|--failed)`,
      { runId, step, tool, key },
    );
  }
}

/**
 * A tool that needs approval (`approval: true`) was denied by its
 * `approve:<tool>` signal: the effect was never attempted, nothing of it was
 * journaled as an intent. Each call waits for a signal of its own, so a call
 * made again waits for a new decision.
 */
export class ApprovalDeniedError extends FlotillaError {
  constructor(tool: string, reason: string | undefined, details: Record<string, unknown> = {}) {
    super(
      "FLOTILLA_APPROVAL_DENIED",
      `tool '${tool}' was not approved${reason ? ` (${reason})` : ""}: the effect was not performed. ` +
        `Change the request, or call the tool again to ask for a new approve:${tool} signal`,
      { ...details, tool, ...(reason === undefined ? {} : { reason }) },
    );
  }
}

export class EffectInProgressError extends FlotillaError {
  constructor(key: string, ownerRunId: string) {
    super(
      "FLOTILLA_EFFECT_IN_PROGRESS",
      `effect key '${key}' is being performed by run ${ownerRunId}; it is not re-executed here`,
      { key, ownerRunId },
    );
  }
}

/**
 * What agent code sees when a step fails: built from the journaled failure,
 * both when it happens and on every replay, so a `catch` that branches on
 * `code` or `name` behaves the same way each time. A Flotilla code is kept as
 * is; any other error keeps its name and message under FLOTILLA_STEP_FAILED.
 */
export class StepFailedError extends FlotillaError {
  constructor(step: string, recorded: SerializedError, options?: ErrorOptions) {
    const code = recorded.code?.startsWith("FLOTILLA_")
      ? (recorded.code as ErrorCode)
      : "FLOTILLA_STEP_FAILED";
    super(code, recorded.message, { ...recorded.details, step, error: recorded }, options);
    this.name = recorded.name;
  }
}

export class RunFailedError extends FlotillaError {
  constructor(runId: string, error: SerializedError) {
    super("FLOTILLA_RUN_FAILED", `run ${runId} failed: ${error.message}`, { runId, error });
  }
}

export class TimeoutError extends FlotillaError {
  constructor(what: string, ms: number) {
    super("FLOTILLA_TIMEOUT", `${what} did not finish within ${ms} ms`, { what, ms });
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

export class RunParkedError extends FlotillaError {
  constructor(runId: string, error: SerializedError | null) {
    super(
      "FLOTILLA_RUN_PARKED",
      `run ${runId} is parked and needs a decision: ${error?.message ?? "no reason recorded"}`,
      { runId, error },
    );
  }
}
