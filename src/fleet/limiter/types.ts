import type { Adjustment, Charge } from "../gcra.js";

/**
 * Where the rate-limit state of a fleet lives: in this process, or shared by
 * every process through Redis or PostgreSQL. Times are relative (ms from
 * now), so processes on machines whose clocks disagree still agree on waits:
 * shared backends read the time of the server that holds the state.
 */
export interface LimiterBackend {
  /** "memory", "redis" or "postgres"; a fallback reports what it is using now. */
  readonly kind: string;
  /** True while a shared backend is unreachable and a local share is used instead. */
  readonly degraded: boolean;
  /**
   * Reserves every charge on `key` or none, in one round trip. Resolves 0
   * when reserved, else the ms until all could be.
   */
  reserve(key: string, charges: readonly Charge[]): Promise<number>;
  /** Applies real usage and the provider's wishes after a call. */
  settle(key: string, adjustments: readonly Adjustment[]): Promise<void>;
  /**
   * Publishes this process's metrics for `flotilla fleet` and returns how many
   * processes published within the last `ttlMs` (this one included).
   */
  publish(reporter: string, snapshot: unknown, ttlMs: number): Promise<number>;
  close(): Promise<void>;
}
