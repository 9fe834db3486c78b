import type { AttemptOutcome } from "./types.js";

export interface AimdOptions {
  min: number;
  max: number;
  initial: number;
  /** Multiplied into the limit on a 429 or a timeout. */
  decrease: number;
  /** Added to the limit on a success while saturated. */
  increase: number;
}

/**
 * Adaptive concurrency by additive increase, multiplicative decrease, as TCP
 * does for congestion. A burst of failures from calls that were all in flight
 * together is one congestion signal, not many: only calls started after the
 * last decrease may decrease again, so thirty 429s do not collapse the limit
 * to its floor.
 */
export class AdaptiveConcurrency {
  private value: number;
  private lastDecreaseSeq = -1;
  private seq = 0;

  constructor(private readonly o: AimdOptions) {
    this.value = Math.min(o.max, Math.max(o.min, o.initial));
  }

  /** How many calls may be in flight now. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /** Stamps a call as it starts; pass the stamp back to `record`. */
  started(): number {
    return this.seq++;
  }

  /**
   * Feeds back one call. `saturated`: whether the limit was reached while it
   * ran — growing a limit nobody is using would only let a later burst through.
   */
  record(outcome: AttemptOutcome, stamp: number, saturated: boolean): void {
    if (outcome === "rate_limited" || outcome === "timeout") {
      if (stamp <= this.lastDecreaseSeq) return;
      this.value = Math.max(this.o.min, this.value * this.o.decrease);
      this.lastDecreaseSeq = this.seq - 1;
    } else if (outcome === "ok" && saturated) {
      this.value = Math.min(this.o.max, this.value + this.o.increase);
    }
  }
}
