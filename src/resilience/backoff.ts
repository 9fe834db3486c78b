/** Capped exponential backoff with full jitter; `retry-after` is a floor, never shortened. */
export interface BackoffOptions {
  /** First delay cap. Default 200 ms. */
  baseMs: number;
  /** Largest delay. Default 20 s. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 20_000 };

export function backoffDelay(
  attempt: number,
  random: () => number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  retryAfterMs?: number,
): number {
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * cap);
  return Math.max(jittered, retryAfterMs ?? 0);
}
