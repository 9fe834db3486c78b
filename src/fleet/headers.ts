import type { RateLimitState } from "../providers/types.js";
import type { BucketName } from "./gcra.js";

/** Limits per minute by bucket, as configured or as a provider reported them. */
export type BucketLimits = Partial<Record<BucketName, number>>;

/** One of the provider's buckets, as a response's headers describe it. */
export interface BucketReading {
  /**
   * The limit per minute. OpenAI's and Anthropic's limits are token buckets
   * that hold one minute's worth and refill continuously, so this is both
   * the bucket's capacity and its refill rate.
   */
  limit?: number;
  /** Units left in the bucket when the response was sent. */
  remaining?: number;
  /** Until the bucket is full again. */
  resetMs?: number;
}

/** What one response's rate-limit headers tell the scheduler. */
export interface HeaderFeedback {
  buckets: Partial<Record<BucketName, BucketReading>>;
  /** `retry-after` (or `retry-after-ms`): stay away from the dependency this long. */
  retryAfterMs?: number;
}

const FIELDS: [BucketName, keyof RateLimitState, keyof RateLimitState, keyof RateLimitState][] = [
  ["requests", "limitRequests", "remainingRequests", "resetRequestsMs"],
  ["tokens", "limitTokens", "remainingTokens", "resetTokensMs"],
  ["inputTokens", "limitInputTokens", "remainingInputTokens", "resetTokensMs"],
  ["outputTokens", "limitOutputTokens", "remainingOutputTokens", "resetTokensMs"],
];

/** Sorts the provider's rate-limit state by bucket; a limit of 0 or less is no limit. */
export function readHeaders(state: RateLimitState): HeaderFeedback {
  const out: HeaderFeedback = { buckets: {} };
  for (const [bucket, limitKey, remainingKey, resetKey] of FIELDS) {
    const limit = state[limitKey];
    const remaining = state[remainingKey];
    if (remaining === undefined && (limit === undefined || limit <= 0)) continue;
    const reset = state[resetKey];
    out.buckets[bucket] = {
      ...(limit !== undefined && limit > 0 && { limit }),
      ...(remaining !== undefined && { remaining }),
      ...(reset !== undefined && { resetMs: reset }),
    };
  }
  if (state.retryAfterMs !== undefined && state.retryAfterMs > 0)
    out.retryAfterMs = state.retryAfterMs;
  return out;
}
