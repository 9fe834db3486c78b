import type { Clock } from "../../core/clock.js";
import { messageOf } from "../../core/errors.js";
import type { Adjustment, Charge } from "../gcra.js";
import { LocalLimiter } from "./local.js";
import type { LimiterBackend } from "./types.js";

export interface FallbackOptions {
  clock: Clock;
  /**
   * This process's share of every limit while the shared backend is
   * unreachable, e.g. 1/N for N processes. Asked at each admission.
   */
  share: () => number;
  /** How long to stay on the local share before trying the shared backend again. */
  retryMs: number;
  /** Told when the limiter falls back or recovers. */
  onChange: (degraded: boolean, reason: string) => void;
}

/**
 * A shared limiter that, when its backend is unreachable, keeps limiting on a
 * conservative local share instead of failing open (every process then
 * believing it has the whole budget) or failing closed (the fleet stopping
 * because Redis restarted). It says so through `degraded` and `onChange`.
 */
export class FallbackLimiter implements LimiterBackend {
  private readonly local: LocalLimiter;
  private downUntil = -Infinity;

  constructor(
    private readonly shared: LimiterBackend,
    private readonly o: FallbackOptions,
  ) {
    this.local = new LocalLimiter(o.clock);
  }

  get kind(): string {
    return this.shared.kind;
  }

  get degraded(): boolean {
    return this.downUntil !== -Infinity;
  }

  async reserve(key: string, charges: readonly Charge[]): Promise<number> {
    if (!this.useLocal()) {
      try {
        const wait = await this.shared.reserve(key, charges);
        this.recovered();
        return wait;
      } catch (err) {
        this.fellBack(err);
      }
    }
    const share = Math.min(1, Math.max(Number.MIN_VALUE, this.o.share()));
    return this.local.reserveNow(
      key,
      charges.map((c) => ({ ...c, intervalMs: c.intervalMs / share })),
    );
  }

  async settle(key: string, adjustments: readonly Adjustment[]): Promise<void> {
    if (!this.useLocal()) {
      try {
        await this.shared.settle(key, adjustments);
        return;
      } catch (err) {
        this.fellBack(err);
      }
    }
    const share = Math.min(1, Math.max(Number.MIN_VALUE, this.o.share()));
    await this.local.settle(
      key,
      adjustments.map((a) => ({ ...a, intervalMs: a.intervalMs / share })),
    );
  }

  async publish(reporter: string, snapshot: unknown, ttlMs: number): Promise<number> {
    if (this.useLocal()) return 0;
    return this.shared.publish(reporter, snapshot, ttlMs);
  }

  close(): Promise<void> {
    return this.shared.close();
  }

  /** True while the shared backend is known down and not yet due for another try. */
  private useLocal(): boolean {
    return this.degraded && this.o.clock.now() < this.downUntil;
  }

  private fellBack(err: unknown): void {
    const first = !this.degraded;
    this.downUntil = this.o.clock.now() + this.o.retryMs;
    if (first)
      this.o.onChange(
        true,
        `${this.shared.kind} limiter unreachable (${messageOf(err)}); ` +
          `limiting on a local share of ${this.o.share().toFixed(2)} until it answers again`,
      );
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.downUntil = -Infinity;
    this.o.onChange(false, `${this.shared.kind} limiter reachable again; shared limits restored`);
  }
}
