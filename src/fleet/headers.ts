import type { RateLimitState } from "../providers/types.js";
import type { BucketName } from "./gcra.js";

/** Limits per minute by bucket, as configured or as a provider reported them. */
export type BucketLimits = Partial<Record<BucketName, number>>;

/** What one response's rate-limit headers tell the scheduler. */
export interface HeaderFeedback {
  /** Limits the provider says apply now (lower than configured during fair-share throttling). */
  limits: BucketLimits;
  /** Buckets the provider says are empty, and for how long to stay away from each. */
  closedForMs: Partial<Record<BucketName, number>>;
}

const FIELDS: [BucketName, keyof RateLimitState, keyof RateLimitState, keyof RateLimitState][] = [
  ["requests", "limitRequests", "remainingRequests", "resetRequestsMs"],
  ["tokens", "limitTokens", "remainingTokens", "resetTokensMs"],
  ["inputTokens", "limitInputTokens", "remainingInputTokens", "resetTokensMs"],
  ["outputTokens", "limitOutputTokens", "remainingOutputTokens", "resetTokensMs"],
];

/**
 * Reads the provider's view of its buckets. `need` is what the next call will
 * take from each bucket: when less than that remains, no call can succeed
 * before the provider refills that much, so the bucket is closed for the time
 * the refill takes at the reported limit (or for the reported reset, when the
 * limit is unknown). `retry-after` closes the request bucket outright.
 */
export function readHeaders(
  state: RateLimitState,
  need: Partial<Record<BucketName, number>>,
): HeaderFeedback {
  const out: HeaderFeedback = { limits: {}, closedForMs: {} };
  for (const [bucket, limitKey, remainingKey, resetKey] of FIELDS) {
    const limit = state[limitKey];
    const remaining = state[remainingKey];
    if (limit !== undefined && limit > 0) out.limits[bucket] = limit;
    const wanted = need[bucket] ?? 0;
    if (remaining === undefined || wanted === 0 || remaining >= wanted) continue;
    const reset = state[resetKey];
    const closed =
      limit !== undefined && limit > 0 ? ((wanted - remaining) * 60_000) / limit : (reset ?? 0);
    if (closed > 0) out.closedForMs[bucket] = closed;
  }
  if (state.retryAfterMs !== undefined && state.retryAfterMs > 0)
    out.closedForMs.requests = Math.max(out.closedForMs.requests ?? 0, state.retryAfterMs);
  return out;
}
