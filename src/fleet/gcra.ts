/**
 * The generic cell rate algorithm: a token bucket kept as one number, the
 * theoretical arrival time (TAT) of the next unit. A limit of `rate` units per
 * minute spaces units `intervalMs = 60000 / rate` apart, so 60/min is enforced
 * as one per second — no burst is released at the top of each minute.
 *
 * A reservation is allowed while the bucket's debt (TAT − now) is within its
 * tolerance, and then adds its whole cost to the debt. A reservation bigger
 * than the tolerance therefore still goes through once earlier debt is paid,
 * instead of being refused forever. The same arithmetic runs in memory, in a
 * Redis Lua script and in a PostgreSQL function; this file is the reference.
 */
export type BucketName = "requests" | "tokens" | "inputTokens" | "outputTokens";

export interface Charge {
  bucket: BucketName;
  units: number;
  /** Spacing of one unit: 60000 / limit-per-minute. */
  intervalMs: number;
  /** How far ahead of the smooth rate this bucket may run. */
  toleranceMs: number;
}

/** A reconciliation: real usage minus the reservation, and how long the provider said to stay away. */
export interface Adjustment {
  bucket: BucketName;
  units: number;
  intervalMs: number;
  /** No reservation on this bucket until this many ms from now (retry-after, remaining 0). */
  closedForMs: number;
  toleranceMs: number;
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

/** Moves a TAT by a refund or a surcharge, and keeps it closed as the provider asked. */
export function gcraSettle(tat: number, a: Adjustment, now: number): number {
  const moved = tat + a.units * a.intervalMs;
  return a.closedForMs > 0 ? Math.max(moved, now + a.closedForMs + a.toleranceMs) : moved;
}
