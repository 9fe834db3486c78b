import { effectNotApplied, type Tool } from "./Tool.js";

/** Socket errors raised before the request could reach the service: nothing was sent. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);
/** Statuses that do not say whether the service acted (a gateway or the service gave up midway). */
const NO_VERDICT_STATUS = new Set([408, 500, 502, 504]);

/**
 * True when a failed attempt may still have taken effect: the request left
 * and no definite answer came back (a reset, a timeout, an abort, a gateway
 * error). Such a failure is an unknown outcome, never a failure.
 */
export function answerLost(err: unknown): boolean {
  if (typeof err !== "object" || err === null || effectNotApplied(err)) return false;
  const e = err as { name?: unknown; code?: unknown; status?: unknown; cause?: { code?: unknown } };
  if (e.name === "AbortError" || e.name === "TimeoutError") return true;
  if (typeof e.status === "number") return NO_VERDICT_STATUS.has(e.status);
  const code = typeof e.code === "string" ? e.code : e.cause?.code;
  if (typeof code === "string") return !NOT_SENT.has(code) && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code);
  // fetch reports a lost connection as a bare "fetch failed" TypeError.
  return e.name === "TypeError" && (err as Error).message === "fetch failed";
}

/**
 * Whether a failed attempt of this tool may have changed the world. An
 * idempotent tool's own error (a 4xx, a validation error) is a verdict; only
 * a lost answer is uncertain. Any other tool's error is uncertain unless it
 * says nothing happened (`ToolRejectedError`, `effectApplied: false`).
 */
export function attemptMayHaveApplied(tool: Tool, err: unknown): boolean {
  return tool.effect === "idempotent" ? answerLost(err) : !effectNotApplied(err);
}
