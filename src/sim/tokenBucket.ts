/**
 * A continuously refilling token bucket, the shape providers use for RPM and
 * TPM limits: `capacity` tokens, refilled at `capacity` per `periodMs`.
 * Time is passed in, so tests drive it without sleeping.
 *
 * `charge` may push the level below zero: output tokens are only known after
 * the work is done, and a real provider then makes the key wait off the debt.
 */
export class TokenBucket {
  private level: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly periodMs: number,
    now: number,
  ) {
    this.level = capacity;
    this.last = now;
  }

  get limit(): number {
    return this.capacity;
  }

  available(now: number): number {
    this.refill(now);
    return this.level;
  }

  /** Takes `n` if available; otherwise takes nothing and returns false. */
  tryTake(n: number, now: number): boolean {
    this.refill(now);
    if (this.level < n) return false;
    this.level -= n;
    return true;
  }

  /**
   * Takes `n` unconditionally (the level may go negative); a negative `n`
   * gives back an unused reservation (the next refill caps the level).
   */
  charge(n: number, now: number): void {
    this.refill(now);
    this.level -= n;
  }

  /** Milliseconds until `n` tokens are available (0 if they are now). */
  msUntil(n: number, now: number): number {
    this.refill(now);
    const missing = Math.min(n, this.capacity) - this.level;
    return missing <= 0 ? 0 : Math.ceil((missing * this.periodMs) / this.capacity);
  }

  /** Milliseconds until the bucket is full again. */
  msUntilFull(now: number): number {
    return this.msUntil(this.capacity, now);
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.level = Math.min(this.capacity, this.level + (elapsed * this.capacity) / this.periodMs);
  }
}
