import { isFlotillaError } from "../core/errors.js";
import { isProviderError } from "../providers/errors.js";

/** What the retry owner needs to know about a failure before deciding anything. */
export interface Classification {
  retryable: boolean;
  /** A short, stable reason: "rate_limited", "server", "context_length", … */
  reason: string;
  /** A floor for the next wait, from retry-after / retry-after-ms. */
  retryAfterMs?: number;
  /** Counts against the dependency's health (breaker); a caller's bad request does not. */
  dependencyFault: boolean;
}

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "UND_ERR_SOCKET",
  "EAI_AGAIN",
]);

/** A tool's own verdict on its errors; undefined defers to the defaults. */
export type ErrorClassifier = (err: unknown) => Partial<Classification> | undefined;

/**
 * Decides, before any retry, whether a failure can succeed if tried again:
 * rate limits, timeouts, 5xx and resets can; other 4xx, quota, context length,
 * content policy and validation cannot. An error marked "don't retry" (a child
 * or step that already gave up) is never retried again above it.
 */
export function classify(err: unknown, custom?: ErrorClassifier): Classification {
  const base = defaultClassification(err);
  const own = custom?.(err);
  return own ? { ...base, ...own } : base;
}

function defaultClassification(err: unknown): Classification {
  if (isFlotillaError(err)) {
    if (err.details.dontRetry === true)
      return { retryable: false, reason: "gave_up_below", dependencyFault: false };
    if (isProviderError(err)) {
      const d = err.details as { kind: string; status?: number; retryAfterMs?: number };
      const transient = ["rate_limited", "server", "timeout", "connection"].includes(d.kind);
      const retryable = transient || (d.status !== undefined && RETRYABLE_STATUS.has(d.status));
      return {
        retryable,
        reason: d.kind,
        ...(d.retryAfterMs !== undefined ? { retryAfterMs: d.retryAfterMs } : {}),
        dependencyFault: retryable,
      };
    }
    // "Certainly did nothing": safe to try again unless the tool said the refusal is final.
    if (err.code === "FLOTILLA_TOOL_REJECTED") {
      const retryable = err.details.retryable !== false;
      return { retryable, reason: "rejected", dependencyFault: retryable };
    }
    return { retryable: false, reason: err.code, dependencyFault: false };
  }
  const e = err as {
    name?: string;
    code?: string;
    status?: number;
    cause?: { code?: string };
  } | null;
  if (e?.name === "AbortError")
    return { retryable: false, reason: "aborted", dependencyFault: false };
  // fetch reports a dropped connection as a TypeError whose cause carries the socket error.
  const code = e?.code ?? e?.cause?.code;
  if (code && NETWORK_CODES.has(code))
    return { retryable: true, reason: "connection", dependencyFault: true };
  if (typeof e?.status === "number") {
    const retryable = RETRYABLE_STATUS.has(e.status);
    return { retryable, reason: `http_${e.status}`, dependencyFault: retryable };
  }
  if (e?.name === "TimeoutError")
    return { retryable: true, reason: "timeout", dependencyFault: true };
  return { retryable: false, reason: "error", dependencyFault: false };
}
