import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { LatencyTracker } from "../src/resilience/LatencyTracker.js";

describe("latency tracker", () => {
  it("reads the median of the last `size` samples, as sorting them would", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 15 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 200 }),
        (size, samples) => {
          const tracker = new LatencyTracker(size);
          const window: number[] = [];
          for (const ms of samples) {
            tracker.record(ms);
            window.push(ms);
            if (window.length > size) window.shift();
            const sorted = [...window].sort((a, b) => a - b);
            assert.equal(tracker.median(), sorted[Math.floor(sorted.length / 2)]);
          }
        },
      ),
    );
  });

  it("is 0 before any sample", () => {
    assert.equal(new LatencyTracker().median(), 0);
  });
});
