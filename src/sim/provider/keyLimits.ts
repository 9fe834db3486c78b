import { TokenBucket } from "../tokenBucket.js";
import type { SimFairShare, SimLimits } from "./options.js";

const MINUTE = 60_000;

export type Admission = { ok: true } | { ok: false; retryAfterMs: number; limit: string };

/** What the rate-limit headers of one response say. */
export interface LimitSnapshot {
  requests?: Meter;
  tokens?: Meter;
  inputTokens?: Meter;
  outputTokens?: Meter;
}

export interface Meter {
  limit: number;
  remaining: number;
  /** Until the bucket is full again. */
  resetMs: number;
}

type BucketName = keyof LimitSnapshot;

/**
 * The server-side limits of one API key. Admission is all-or-nothing: a
 * request refused by one bucket takes nothing from the others.
 */
export class KeyLimits {
  private readonly buckets = new Map<BucketName, { bucket: TokenBucket; base: number }>();
  private readonly recent: number[] = [];
  private penalisedUntil = -Infinity;

  constructor(
    limits: SimLimits,
    private readonly fairShare: SimFairShare | undefined,
    now: number,
  ) {
    const add = (name: BucketName, perMinute: number | undefined): void => {
      if (perMinute !== undefined) {
        this.buckets.set(name, {
          bucket: new TokenBucket(perMinute, MINUTE, now),
          base: perMinute,
        });
      }
    };
    add("requests", limits.rpm);
    add("tokens", limits.tpm);
    add("inputTokens", limits.inputTpm);
    add("outputTokens", limits.outputTpm);
  }

  admit(inputTokens: number, now: number): Admission {
    this.applyFairShare(now);
    // Output tokens are unknown until the answer exists, so the output bucket
    // only has to be out of debt; the real count is charged afterwards.
    const needs: [BucketName, number][] = [
      ["requests", 1],
      ["tokens", inputTokens],
      ["inputTokens", inputTokens],
      ["outputTokens", Number.MIN_VALUE],
    ];
    let wait = 0;
    let limit = "";
    for (const [name, n] of needs) {
      const b = this.buckets.get(name)?.bucket;
      if (!b) continue;
      // A request larger than the whole bucket waits for a full bucket
      // instead of being refused forever.
      const ms = b.msUntil(Math.min(n, b.limit), now);
      if (ms > wait) {
        wait = ms;
        limit = name;
      }
    }
    if (wait > 0) return { ok: false, retryAfterMs: wait, limit };
    this.recent.push(now);
    this.take("requests", 1, now);
    this.take("tokens", inputTokens, now);
    this.take("inputTokens", inputTokens, now);
    return { ok: true };
  }

  /** Bills the output of admitted work. */
  chargeOutput(outputTokens: number, now: number): void {
    this.take("tokens", outputTokens, now);
    this.take("outputTokens", outputTokens, now);
  }

  snapshot(now: number): LimitSnapshot {
    const out: LimitSnapshot = {};
    for (const [name, { bucket }] of this.buckets) {
      out[name] = {
        limit: Math.round(bucket.limit),
        remaining: Math.max(0, Math.floor(bucket.available(now))),
        resetMs: bucket.msUntilFull(now),
      };
    }
    return out;
  }

  get throttled(): boolean {
    return this.penalisedUntil !== -Infinity;
  }

  private take(name: BucketName, n: number, now: number): void {
    this.buckets.get(name)?.bucket.charge(n, now);
  }

  private applyFairShare(now: number): void {
    const fs = this.fairShare;
    if (!fs) return;
    while (this.recent.length > 0 && (this.recent[0] ?? 0) <= now - fs.windowMs)
      this.recent.shift();
    if (this.penalisedUntil !== -Infinity && now >= this.penalisedUntil) {
      this.penalisedUntil = -Infinity;
      for (const { bucket, base } of this.buckets.values()) bucket.resize(base, now);
    }
    if (this.penalisedUntil === -Infinity && this.recent.length >= fs.burstRequests) {
      this.penalisedUntil = now + fs.cooldownMs;
      for (const { bucket, base } of this.buckets.values()) bucket.resize(base * fs.factor, now);
    }
  }
}
