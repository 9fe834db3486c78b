import type { SerializedError } from "../core/errors.js";

/** Why a run could not complete, decided once when it is captured. */
export type DeadLetterClass =
  | "retries-exhausted"
  | "non-retryable"
  | "budget-exhausted"
  | "loop-detected"
  | "no-progress"
  | "validation-failed"
  | "context-exhausted"
  | "policy-violation"
  | "effect-outcome-unknown"
  | "cancelled-with-unsettled-effects"
  | "compensation-failed"
  | "deadline-exceeded";

export const DEAD_LETTER_CLASSES: readonly DeadLetterClass[] = [
  "retries-exhausted",
  "non-retryable",
  "budget-exhausted",
  "loop-detected",
  "no-progress",
  "validation-failed",
  "context-exhausted",
  "policy-violation",
  "effect-outcome-unknown",
  "cancelled-with-unsettled-effects",
  "compensation-failed",
  "deadline-exceeded",
];

export function isDeadLetterClass(value: unknown): value is DeadLetterClass {
  return DEAD_LETTER_CLASSES.includes(value as DeadLetterClass);
}

/**
 * Dependency failures a later attempt may get past (the breaker, the retry
 * budget and throttling all mean "the dependency was failing"), so they share
 * the class whose default route is a redrive once the dependency recovers.
 */
const BY_CODE: Readonly<Record<string, DeadLetterClass>> = {
  FLOTILLA_RETRIES_EXHAUSTED: "retries-exhausted",
  FLOTILLA_RETRY_BUDGET_EXHAUSTED: "retries-exhausted",
  FLOTILLA_BREAKER_OPEN: "retries-exhausted",
  FLOTILLA_THROTTLED: "retries-exhausted",
  FLOTILLA_DEPENDENCY_UNAVAILABLE: "retries-exhausted",
  FLOTILLA_VALIDATION_FAILED: "validation-failed",
  FLOTILLA_DEADLINE_EXCEEDED: "deadline-exceeded",
  FLOTILLA_EFFECT_OUTCOME_UNKNOWN: "effect-outcome-unknown",
  FLOTILLA_BUDGET_EXHAUSTED: "budget-exhausted",
  FLOTILLA_LOOP_DETECTED: "loop-detected",
  FLOTILLA_NO_PROGRESS: "no-progress",
  FLOTILLA_UNDO_INCOMPLETE: "compensation-failed",
};

const TRANSIENT_KINDS = new Set(["rate_limited", "server", "timeout", "connection"]);

/**
 * The dead-letter class of the error a run ended with, or undefined when the
 * run simply failed (a bug in agent code, non-determinism, a refusal the
 * caller asked for): those stay `failed`, since redriving cannot help them.
 */
export function classOf(error: SerializedError | null | undefined): DeadLetterClass | undefined {
  if (!error?.code) return undefined;
  const known = BY_CODE[error.code];
  if (known) return known;
  const details = error.details ?? {};
  if (error.code === "FLOTILLA_DEAD_LETTERED")
    return isDeadLetterClass(details.class) ? details.class : undefined;
  if (error.code === "FLOTILLA_PROVIDER_ERROR") {
    const kind = details.kind;
    if (kind === "context_length") return "context-exhausted";
    if (kind === "content_policy") return "policy-violation";
    return typeof kind === "string" && TRANSIENT_KINDS.has(kind)
      ? "retries-exhausted"
      : "non-retryable";
  }
  return undefined;
}
