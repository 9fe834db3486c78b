import { setLongTimeout, type LongTimeout } from "../core/timers.js";

/**
 * Self-fencing for one execution: until when this worker can prove it holds
 * the run's lease (the last successful claim or renewal plus the lease, less
 * a margin). Past it the execution must start nothing more: another worker
 * may own the run. A timer calls `onExpired` the moment that happens, not at
 * the next heartbeat.
 */
export class LeaseFence {
  private timer: LongTimeout | undefined;
  private cleared = false;

  constructor(
    private validUntil: number,
    private readonly onExpired: () => void,
  ) {
    this.arm();
  }

  /** A renewal succeeded: the lease is provably held until `until`. */
  confirm(until: number): void {
    if (until <= this.validUntil) return;
    this.validUntil = until;
    this.arm();
  }

  /** True once the lease can no longer be proven (wall-clock time, as the store counts leases). */
  get expired(): boolean {
    return Date.now() >= this.validUntil;
  }

  /** The execution ended: no timer is left behind. */
  clear(): void {
    this.cleared = true;
    this.timer?.clear();
  }

  private arm(): void {
    this.timer?.clear();
    if (!Number.isFinite(this.validUntil) || this.cleared) return;
    this.timer = setLongTimeout(() => {
      // Timers may fire a millisecond early: look again then.
      if (this.expired) this.onExpired();
      else this.arm();
    }, this.validUntil - Date.now()).unref();
  }
}
