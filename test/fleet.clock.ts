import type { Clock } from "../src/core/clock.js";

/**
 * Fake time for fleet tests: sleeps wait until the test moves the clock.
 * `advance` fires due sleepers in time order and lets the promise chains they
 * start run before moving on, so schedulers behave as if time had passed.
 */
export interface ManualClock extends Clock {
  advance(ms: number): Promise<void>;
  /** Sleepers still waiting. */
  readonly sleeping: number;
}

export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function manualClock(start = 1_000_000): ManualClock {
  let now = start;
  let seq = 0;
  const sleepers: { at: number; seq: number; wake: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        signal?.throwIfAborted();
        const entry = {
          at: now + Math.max(0, ms),
          seq: seq++,
          wake: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          const i = sleepers.indexOf(entry);
          if (i >= 0) sleepers.splice(i, 1);
          reject(signal?.reason as Error);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        sleepers.push(entry);
      }),
    advance: async (ms) => {
      const target = now + ms;
      await flush();
      for (;;) {
        sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = sleepers[0];
        if (!next || next.at > target) break;
        sleepers.shift();
        now = Math.max(now, next.at);
        next.wake();
        await flush();
      }
      now = target;
      await flush();
    },
    get sleeping() {
      return sleepers.length;
    },
  };
}
