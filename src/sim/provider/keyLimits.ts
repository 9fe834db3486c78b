import { TokenBucket } from "../tokenBucket.js";
import type { SimLimits } from "./options.js";

const MINUTE = 60_000;

/** An admitted request: `settle` bills the output it produced (once; later calls do nothing). */
export type Admission =
  | { ok: true; settle(outputTokens: number, now: number): void }
  | { ok: false; retryAfterMs: number; limit: string };

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
 * The server-side limits of one API key, shaped like OpenAI's and
 * Anthropic's: one token bucket per limit, holding a minute's worth and
 * refilled continuously (so a fresh key may burst its whole minute, and an
 * empty one gets limit/60 a second). The output a request may produce (its
 * max_tokens) is reserved when it is admitted and settled to what it really
 * produced when it ends, as Anthropic documents for output tokens and OpenAI
 * for max_tokens. Admission is all-or-nothing: a request refused by one
 * bucket takes nothing from the others, and its 429 says how long until all
 * of them could take it.
 */
export class KeyLimits {
  private readonly buckets = new Map<BucketName, TokenBucket>();

  constructor(limits: SimLimits, now: number) {
    const add = (name: BucketName, perMinute: number | undefined): void => {
      if (perMinute !== undefined) this.buckets.set(name, new TokenBucket(perMinute, MINUTE, now));
    };
    add("requests", limits.rpm);
    add("tokens", limits.tpm);
    add("inputTokens", limits.inputTpm);
    add("outputTokens", limits.outputTpm);
  }

  admit(inputTokens: number, maxOutputTokens: number, now: number): Admission {
    const needs: [BucketName, number][] = [
      ["requests", 1],
      ["tokens", inputTokens + maxOutputTokens],
      ["inputTokens", inputTokens],
      ["outputTokens", maxOutputTokens],
    ];
    let wait = 0;
    let limit = "";
    for (const [name, n] of needs) {
      const b = this.buckets.get(name);
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
    for (const [name, n] of needs) this.take(name, n, now);
    let settled = false;
    return {
      ok: true,
      settle: (outputTokens, at) => {
        if (settled) return;
        settled = true;
        // What it produced beyond its reservation is debt; what it did not use comes back.
        this.take("tokens", outputTokens - maxOutputTokens, at);
        this.take("outputTokens", outputTokens - maxOutputTokens, at);
      },
    };
  }

  snapshot(now: number): LimitSnapshot {
    const out: LimitSnapshot = {};
    for (const [name, bucket] of this.buckets) {
      out[name] = {
        limit: Math.round(bucket.limit),
        remaining: Math.max(0, Math.floor(bucket.available(now))),
        resetMs: bucket.msUntilFull(now),
      };
    }
    return out;
  }

  private take(name: BucketName, n: number, now: number): void {
    this.buckets.get(name)?.charge(n, now);
  }
}
