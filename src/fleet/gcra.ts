/**
 * The generic cell rate algorithm: a token bucket kept as one number, the
 * theoretical arrival time (TAT) of the next unit. A limit of `rate` units per
 * minute spaces units `intervalMs = 60000 / rate` apart, so 60/min is enforced
 * as one per second — no burst is released at the top of each minute.
 *
 * A reservation is allowed while the bucket's debt (TAT − now) is within its
 * tolerance, and then adds its whole cost to the debt. A reservation bigger
 * than the tolerance therefore still goes through once earlier debt is paid,
 * instead of being refused forever. A bucket of capacity C that a charge of n
 * units may draw down to empty has tolerance (C − n) × intervalMs: that is a
 * provider's token bucket, debt and all. The same arithmetic runs in memory,
 * in a Redis Lua script and in a PostgreSQL function; this file is the
 * reference.
 */
export type BucketName = "requests" | "tokens" | "inputTokens" | "outputTokens";

export interface Charge {
  bucket: BucketName;
  units: number;
  /** Spacing of one unit: 60000 / limit-per-minute. */
  intervalMs: number;
  /** How far ahead of the smooth rate this bucket may run: its burst, in ms of refill. */
  toleranceMs: number;
}

/** A reconciliation: real usage minus the reservation, and what the provider said about its bucket. */
export interface Adjustment {
  bucket: BucketName;
  units: number;
  intervalMs: number;
  /**
   * The debt is at least this many ms from now afterwards: the provider's
   * own level (its remaining count), or a closure it asked for (retry-after).
   * 0: no floor.
   */
  floorMs: number;
}

/** All charges or none: returns the new TATs, or how long until all could be met. */
export function gcraReserve(
  tats: readonly number[],
  charges: readonly Charge[],
  now: number,
): { waitMs: 0; tats: number[] } | { waitMs: number } {
  let waitMs = 0;
  const next: number[] = [];
  charges.forEach((c, i) => {
    const tat = Math.max(tats[i] ?? 0, now);
    waitMs = Math.max(waitMs, tat - now - c.toleranceMs);
    next.push(tat + c.units * c.intervalMs);
  });
  return waitMs > 0 ? { waitMs } : { waitMs: 0, tats: next };
}

/** Moves a TAT by a refund or a surcharge, then raises it to the provider's floor. */
export function gcraSettle(tat: number, a: Adjustment, now: number): number {
  const moved = tat + a.units * a.intervalMs;
  return a.floorMs > 0 ? Math.max(moved, now + a.floorMs) : moved;
}
