import type { BucketName } from "./gcra.js";
import type { BucketLimits } from "./headers.js";
import type { AttemptOutcome } from "./types.js";

const WINDOW_MS = 60_000;
const WAIT_SAMPLES = 2048;

/** One admission, kept for a minute so the admitted rate can be compared with the limit. */
export interface AdmissionSample {
  at: number;
  tenant: string;
  units: Record<BucketName, number>;
}

export interface DependencySnapshot {
  dependency: string;
  queueDepth: number;
  queueByTenant: Record<string, number>;
  inFlight: number;
  concurrencyLimit: number;
  /** Limits in force (configured, lowered by what the provider reported). */
  limits: BucketLimits;
  /**
   * Units each limited bucket may run ahead of its smooth rate: the bucket
   * the provider's headers reported (or, before the first answer, the
   * configured limit), less headroom, capped by `burstMs`; 0 when paced
   * smoothly.
   */
  burst: Partial<Record<BucketName, number>>;
  /** Admitted over the last minute, per bucket (real usage once known). */
  admittedPerMinute: Record<BucketName, number>;
  /** admittedPerMinute / limit, per limited bucket. */
  admittedOverLimit: Partial<Record<BucketName, number>>;
  attempts: Record<AttemptOutcome, number>;
  /** Share of finished attempts the provider answered with 429. */
  share429: number;
  queueWaitMs: { p50: number; p99: number; max: number };
  /** Share of the last minute's admitted requests, by tenant. */
  tenantShare: Record<string, number>;
  admittedTotal: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

/** Counters for one dependency; the scheduler feeds them, `flotilla fleet` shows them. */
export class DependencyMetrics {
  private readonly recent: AdmissionSample[] = [];
  private readonly waits: number[] = [];
  private readonly attempts: Record<AttemptOutcome, number> = {
    ok: 0,
    rate_limited: 0,
    timeout: 0,
    error: 0,
  };
  private admittedTotal = 0;

  constructor(readonly dependency: string) {}

  admitted(sample: AdmissionSample, waitedMs: number): void {
    this.recent.push(sample);
    this.admittedTotal++;
    this.waits.push(waitedMs);
    if (this.waits.length > WAIT_SAMPLES) this.waits.shift();
  }

  finished(outcome: AttemptOutcome): void {
    this.attempts[outcome]++;
  }

  snapshot(
    now: number,
    live: Pick<
      DependencySnapshot,
      "queueDepth" | "queueByTenant" | "inFlight" | "concurrencyLimit" | "limits" | "burst"
    >,
  ): DependencySnapshot {
    while (this.recent.length > 0 && (this.recent[0]?.at ?? now) <= now - WINDOW_MS)
      this.recent.shift();
    const perMinute: Record<BucketName, number> = {
      requests: 0,
      tokens: 0,
      inputTokens: 0,
      outputTokens: 0,
    };
    const byTenant: Record<string, number> = {};
    for (const s of this.recent) {
      for (const k of Object.keys(perMinute) as BucketName[]) perMinute[k] += s.units[k];
      byTenant[s.tenant] = (byTenant[s.tenant] ?? 0) + 1;
    }
    const overLimit: Partial<Record<BucketName, number>> = {};
    for (const [k, limit] of Object.entries(live.limits) as [BucketName, number][])
      overLimit[k] = perMinute[k] / limit;
    const finished = Object.values(this.attempts).reduce((a, b) => a + b, 0);
    const sorted = [...this.waits].sort((a, b) => a - b);
    return {
      dependency: this.dependency,
      ...live,
      admittedPerMinute: perMinute,
      admittedOverLimit: overLimit,
      attempts: { ...this.attempts },
      share429: finished === 0 ? 0 : this.attempts.rate_limited / finished,
      queueWaitMs: {
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted.at(-1) ?? 0,
      },
      tenantShare: Object.fromEntries(
        Object.entries(byTenant).map(([t, n]) => [t, n / this.recent.length]),
      ),
      admittedTotal: this.admittedTotal,
    };
  }
}
