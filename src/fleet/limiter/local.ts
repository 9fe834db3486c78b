import type { Clock } from "../../core/clock.js";
import { gcraReserve, gcraSettle, type Adjustment, type Charge } from "../gcra.js";
import type { LimiterBackend } from "./types.js";

/** Limiter state in this process only: for one worker, tests, and as the fallback share. */
export class LocalLimiter implements LimiterBackend {
  readonly kind = "memory";
  readonly degraded = false;
  private readonly tats = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  reserve(key: string, charges: readonly Charge[]): Promise<number> {
    return Promise.resolve(this.reserveNow(key, charges));
  }

  reserveNow(key: string, charges: readonly Charge[]): number {
    const now = this.clock.now();
    const ids = charges.map((c) => `${key}\u0000${c.bucket}`);
    const result = gcraReserve(
      ids.map((id) => this.tats.get(id) ?? 0),
      charges,
      now,
    );
    if (result.waitMs > 0 || !("tats" in result)) return result.waitMs;
    result.tats.forEach((tat, i) => this.tats.set(ids[i] as string, tat));
    return 0;
  }

  settle(key: string, adjustments: readonly Adjustment[]): Promise<void> {
    const now = this.clock.now();
    for (const a of adjustments) {
      const id = `${key}\u0000${a.bucket}`;
      this.tats.set(id, gcraSettle(this.tats.get(id) ?? now, a, now));
    }
    return Promise.resolve();
  }

  publish(): Promise<number> {
    return Promise.resolve(1);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
