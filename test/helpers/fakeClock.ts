import type { Clock } from "../../src/core/clock.js";

/** A clock that only moves when told; sleeps resolve as time is advanced past them. */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private sleepers: { until: number; resolve: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise((resolve) => this.sleepers.push({ until: this.t + ms, resolve }));
  }

  /** Moves time forward, waking sleepers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    // Let pending continuations register their sleeps before time moves.
    await new Promise((r) => setImmediate(r));
    for (;;) {
      this.sleepers.sort((a, b) => a.until - b.until);
      const next = this.sleepers[0];
      if (!next || next.until > end) break;
      this.sleepers.shift();
      this.t = Math.max(this.t, next.until);
      next.resolve();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
  }

  get pendingSleeps(): number {
    return this.sleepers.length;
  }
}
