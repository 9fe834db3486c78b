import { FlotillaError, messageOf, serializeError, type SerializedError } from "./flotillaError.js";

/*
 * The errors that end a step or a run for good, each of a dead-letter class
 * (src/deadletter/taxonomy.ts): retries or their budget spent, a dependency
 * down past waiting, a deadline, a refusal, an escalation, a failed
 * validation, a budget, a loop, no progress.
 */

/** Marks an error as final for everything above it: a parent must not retry what a child gave up on. */
function final(details: Record<string, unknown>): Record<string, unknown> {
  return { ...details, dontRetry: true };
}

export class RetriesExhaustedError extends FlotillaError {
  constructor(dependency: string, attempts: number, cause: unknown) {
    super(
      "FLOTILLA_RETRIES_EXHAUSTED",
      `'${dependency}' failed ${attempts} times; giving up (last error: ${messageOf(cause)})`,
      final({ dependency, attempts, lastError: serializeError(cause) }),
      { cause },
    );
  }
}

export class RetryBudgetExhaustedError extends FlotillaError {
  constructor(dependency: string, cause: unknown) {
    super(
      "FLOTILLA_RETRY_BUDGET_EXHAUSTED",
      `'${dependency}' is failing and its retry budget is spent; not retrying so the outage is not amplified (last error: ${messageOf(cause)})`,
      final({ dependency, lastError: serializeError(cause) }),
      { cause },
    );
  }
}

export class DependencyUnavailableError extends FlotillaError {
  constructor(dependency: string, until: number, cause: unknown) {
    super(
      "FLOTILLA_DEPENDENCY_UNAVAILABLE",
      `'${dependency}' stayed unavailable until ${new Date(until).toISOString()}, the latest this run could wait for it (last error: ${messageOf(cause)})`,
      final({ dependency, until, lastError: serializeError(cause) }),
      { cause },
    );
  }
}

export class ThrottledError extends FlotillaError {
  constructor(dependency: string, probability: number) {
    super(
      "FLOTILLA_THROTTLED",
      `'${dependency}' is rejecting most requests; this one was dropped locally (p=${probability.toFixed(2)})`,
      final({ dependency, probability }),
    );
  }
}

export class DeadlineExceededError extends FlotillaError {
  constructor(what: string, deadline: number, reason: string) {
    super(
      "FLOTILLA_DEADLINE_EXCEEDED",
      `${what}: deadline ${new Date(deadline).toISOString()} ${reason}`,
      final({ what, deadline }),
    );
  }
}

export class RefusedError extends FlotillaError {
  constructor(dependency: string, cause: unknown) {
    super(
      "FLOTILLA_REFUSED",
      `'${dependency}' is unavailable and this call fails closed: no fallback, no guess (${messageOf(cause)})`,
      final({ dependency, cause: serializeError(cause) }),
      { cause },
    );
  }
}

export class EscalatedError extends FlotillaError {
  constructor(dependency: string, cause: unknown) {
    super(
      "FLOTILLA_ESCALATED",
      `'${dependency}' is unavailable; the run is parked for a human (${messageOf(cause)})`,
      final({ dependency, cause: serializeError(cause) }),
      { cause },
    );
  }
}

export class ValidationFailedError extends FlotillaError {
  constructor(what: string, samples: number, problem: string) {
    super(
      "FLOTILLA_VALIDATION_FAILED",
      `${what}: no valid answer in ${samples} sample(s): ${problem}`,
      final({ what, samples, problem }),
    );
  }
}

export class BudgetExhaustedError extends FlotillaError {
  constructor(scope: string, resource: string, limit: number, wanted: number, used: number) {
    super(
      "FLOTILLA_BUDGET_EXHAUSTED",
      `budget '${scope}' has ${resource} ${used} used of ${limit}; this step needs up to ${wanted} more, ` +
        "so it was not started. Redrive the dead letter with a larger budget to continue",
      final({ scope, resource, limit, wanted, used }),
    );
  }
}

export class LoopDetectedError extends FlotillaError {
  constructor(runId: string, kind: "repeated-call" | "ping-pong", detail: Record<string, unknown>) {
    super(
      "FLOTILLA_LOOP_DETECTED",
      `run ${runId} is looping (${kind}: ${JSON.stringify(detail)}); it was stopped before spending ` +
        "more. Inspect it with flotilla dlq show, then redrive or discard it",
      final({ runId, kind, ...detail }),
    );
  }
}

/** Which detector saw no progress: steps with nothing new, or LLM answers echoing the run's own. */
export type NoProgressDetector = "steps" | "echo";

export class NoProgressError extends FlotillaError {
  constructor(runId: string, steps: number, detector: NoProgressDetector = "steps") {
    const what =
      detector === "echo"
        ? `made ${steps} LLM calls in a row that asked nothing new and were told nothing new (the model echoing the run's own answers)`
        : `took ${steps} steps without a new effect, state change or output`;
    super(
      "FLOTILLA_NO_PROGRESS",
      `run ${runId} ${what}; it was stopped. Inspect it with flotilla dlq show, then redrive or discard it`,
      final({ runId, steps, detector }),
    );
  }
}

/**
 * What a parent (or a caller of `result()`) sees when a run was dead-lettered:
 * its class says why, so the parent can fall back, skip or escalate.
 */
export class RunDeadLetteredError extends FlotillaError {
  constructor(
    runId: string,
    deadLetterClass: string,
    deadLetterId: string | null,
    error: SerializedError | null,
  ) {
    super(
      "FLOTILLA_DEAD_LETTERED",
      `run ${runId} was dead-lettered (${deadLetterClass}): ${error?.message ?? "no reason recorded"}`,
      final({ runId, class: deadLetterClass, deadLetterId, error }),
    );
  }
}
