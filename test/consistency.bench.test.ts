import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { consistencyBench } from "../bench/consistency/index.js";

/** bench consistency, quick: the evidence holds its targets in the suite (figures are not asserted). */

describe("bench consistency", () => {
  it("lets no contradiction reach Flotilla's composer, and finds every one the naive composer met", async () => {
    const seed = 4242;
    const r = (await consistencyBench({ seed, quick: true })) as {
      naive: { contradictionsReachingComposer: number; llmCalls: number };
      flotilla: {
        contradictionsReachingComposer: number;
        detected: number;
        resolvedBy: Record<string, number>;
        failedRuns: number;
        humanSignals: number;
      };
      detectedEqualsNaive: boolean;
    };
    const why = `seed ${seed}: ${JSON.stringify(r)}`;
    assert.ok(r.naive.contradictionsReachingComposer > 0, `the classifiers disagree: ${why}`);
    assert.equal(r.flotilla.failedRuns, 0, why);
    assert.equal(r.flotilla.contradictionsReachingComposer, 0, why);
    assert.equal(r.flotilla.detected, r.naive.contradictionsReachingComposer, why);
    assert.equal(r.detectedEqualsNaive, true, why);
    for (const policy of ["decide", "vote", "prefer-pinned", "re-ask", "escalate"])
      assert.ok((r.flotilla.resolvedBy[policy] ?? 0) > 0, `${policy} resolved some: ${why}`);
    assert.equal(r.flotilla.humanSignals, r.flotilla.resolvedBy.escalate, why);
  });
});
