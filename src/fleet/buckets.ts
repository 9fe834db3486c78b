import type { RateLimitState } from "../providers/types.js";
import type { Adjustment, BucketName, Charge } from "./gcra.js";
import { readHeaders, type BucketLimits, type BucketReading } from "./headers.js";
import type { AttemptOutcome } from "./types.js";

const MINUTE = 60_000;
/** Without a `retry-after`, a 429 still closes the dependency for this long. */
const DEFAULT_429_PAUSE_MS = 1000;
/**
 * Share of a learned bucket never drawn on. Our token estimate and the
 * provider's count differ by a few tokens a call (message framing, its
 * tokenizer), and a bucket drawn to its last token has no room for that. It
 * costs this share of one burst, never steady-state throughput: the refill
 * rate is the same at any level.
 */
const HEADROOM = 0.02;

/**
 * What one dependency's admission knows about the provider's rate buckets.
 *
 * A bucket whose limit a response's headers reported is the provider's own:
 * capacity one minute's worth, refilled continuously, and calls may draw it
 * down in a burst as far as the provider's `remaining` says is left. The
 * provider's count is authoritative: after every response the shared debt is
 * raised to at least what it reports, so another client of the same key, or
 * tokens we under-estimated, cannot make us believe in room that is not there.
 *
 * Before the first answer nothing is known, so the lane sends one call at a
 * time (`probing`) and presumes the configured limit is such a bucket — the
 * size every process sharing the limiter presumes or has learned, so none
 * reads another's burst as a debt to wait off. If the answer reports no such
 * bucket (a tool, a provider without rate-limit headers, whose limit may be a
 * sliding window), the bucket is paced smoothly until one does. `burstCapMs`
 * caps every burst.
 */
export class DependencyBuckets {
  private reported: BucketLimits = {};
  private readonly learned = new Set<BucketName>();
  private answered = false;

  /** `burstCapMs`: the `burstMs` option; undefined lets learned buckets burst in full. */
  constructor(
    private readonly configured: BucketLimits,
    private readonly burstCapMs: number | undefined,
  ) {}

  /** Limits in force: the configured ones, lowered by what the provider last reported. */
  limits(): BucketLimits {
    const out: BucketLimits = { ...this.configured };
    for (const [k, v] of Object.entries(this.reported) as [BucketName, number][])
      out[k] = Math.min(out[k] ?? Infinity, v);
    return out;
  }

  /** True until a limited dependency has answered once: its calls go one at a time meanwhile. */
  probing(): boolean {
    return !this.answered && Object.keys(this.limits()).length > 0;
  }

  /** Units each limited bucket may run ahead of its smooth rate now (0: paced smoothly). */
  burst(): Partial<Record<BucketName, number>> {
    const out: Partial<Record<BucketName, number>> = {};
    for (const [bucket, limit] of Object.entries(this.limits()) as [BucketName, number][])
      out[bucket] = Math.floor((this.tolerance(bucket, 0, limit) * limit) / MINUTE);
    return out;
  }

  /** The request bucket is always charged, limit or not: it carries retry-after pauses. */
  charges(units: Record<BucketName, number>): Charge[] {
    const limits = this.limits();
    const out: Charge[] = [this.charge("requests", 1, limits.requests)];
    for (const bucket of ["tokens", "inputTokens", "outputTokens"] as const) {
      const limit = limits[bucket];
      if (limit !== undefined) out.push(this.charge(bucket, units[bucket], limit));
    }
    return out;
  }

  /**
   * Real usage minus the reservation, and the floors the provider's headers
   * set: its remaining count for every bucket it reported, and retry-after on
   * the request bucket. A 429'd request keeps its request unit: providers
   * count attempts.
   */
  reconcile(
    charges: readonly Charge[],
    actual: Record<BucketName, number>,
    outcome: AttemptOutcome,
    rateLimit: RateLimitState | undefined,
  ): Adjustment[] {
    const feedback = readHeaders(rateLimit ?? {});
    for (const [bucket, reading] of Object.entries(feedback.buckets) as [
      BucketName,
      BucketReading,
    ][]) {
      if (reading.limit === undefined) continue;
      this.reported[bucket] = reading.limit;
      this.learned.add(bucket);
    }
    this.answered = true;
    const limits = this.limits();
    const retryAfterMs =
      feedback.retryAfterMs ?? (outcome === "rate_limited" ? DEFAULT_429_PAUSE_MS : 0);
    const out: Adjustment[] = [];
    const settle = (bucket: BucketName, units: number, intervalMs: number): void => {
      let floorMs = this.floor(bucket, feedback.buckets[bucket], actual[bucket], limits[bucket]);
      if (bucket === "requests" && retryAfterMs > 0)
        floorMs = Math.max(floorMs, retryAfterMs + this.tolerance(bucket, 1, limits.requests));
      if (units !== 0 || floorMs > 0) out.push({ bucket, units, intervalMs, floorMs });
    };
    for (const c of charges)
      settle(c.bucket, c.bucket === "requests" ? 0 : actual[c.bucket] - c.units, c.intervalMs);
    // A bucket the headers just revealed was not charged, but its floor holds from now on.
    for (const bucket of Object.keys(feedback.buckets) as BucketName[]) {
      const limit = limits[bucket];
      if (limit !== undefined && !charges.some((c) => c.bucket === bucket))
        settle(bucket, 0, MINUTE / limit);
    }
    return out;
  }

  private charge(bucket: BucketName, units: number, limit: number | undefined): Charge {
    return {
      bucket,
      units,
      intervalMs: limit ? MINUTE / limit : 0,
      toleranceMs: this.tolerance(bucket, units, limit),
    };
  }

  /**
   * How far ahead of the smooth rate a charge of `units` may run: a learned
   * (or, before the first answer, presumed) bucket lets it draw the bucket
   * down to its headroom; one the answers did not report only as far as
   * `burstCapMs` says.
   */
  private tolerance(bucket: BucketName, units: number, limit: number | undefined): number {
    const bucketLike = this.learned.has(bucket) || !this.answered;
    if (!limit || !bucketLike) return this.burstCapMs ?? 0;
    const learned = Math.max(0, (limit * (1 - HEADROOM) - units) * (MINUTE / limit));
    return Math.min(learned, this.burstCapMs ?? Infinity);
  }

  /**
   * The debt, in ms from now, that the provider's remaining count implies:
   * enough that a call the size of this one never believes in more than the
   * provider has left, less the headroom. Without a reported limit the bucket's size is
   * unknown, so it is only closed when less remains than the call took, for
   * the time that refill takes (or the reported reset).
   */
  private floor(
    bucket: BucketName,
    reading: BucketReading | undefined,
    took: number,
    limit: number | undefined,
  ): number {
    const remaining = reading?.remaining;
    if (remaining === undefined) return 0;
    if (limit && this.learned.has(bucket)) {
      // A call like this one fits while debt ≤ tolerance: the bucket holds
      // tolerance / interval + took, which must not exceed remaining − headroom.
      const short = took + HEADROOM * limit - remaining;
      return Math.max(0, this.tolerance(bucket, took, limit) + short * (MINUTE / limit));
    }
    if (took === 0 || remaining >= took) return 0;
    const closedMs = limit ? ((took - remaining) * MINUTE) / limit : (reading?.resetMs ?? 0);
    return closedMs > 0 ? closedMs + this.tolerance(bucket, took, limit) : 0;
  }
}
