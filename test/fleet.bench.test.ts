import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  admittedOverBucket,
  goodputOfAdmissible,
  taskKey,
  tenantFairness,
  type CallRecord,
} from "../bench/fleet/measure.js";

const call = (at: number, thread: number, task: number, tokens = 100): CallRecord => ({
  at,
  thread,
  task,
  tenant: `t${thread % 2}`,
  inputTokens: tokens - 10,
  outputTokens: 10,
});

describe("fleet bench measures", () => {
  it("counts as useful only answers inside the window for tasks that did not fail", () => {
    const calls = [
      call(0, 0, 0),
      call(500, 0, 0),
      call(100, 1, 0),
      call(900, 1, 1),
      call(1001, 0, 1),
    ];
    const g = goodputOfAdmissible(calls, new Set([taskKey(1, 0)]), 1000, { rpm: 60, tpm: 600 });
    // 60/min and 600/min with a one-second window: a full bucket plus one second of refill.
    assert.deepEqual(g.admissible, { requests: 61, tokens: 610 });
    assert.equal(g.usefulCalls, 3);
    assert.equal(g.usefulTokens, 300);
    assert.equal(g.binding, "tpm");
    assert.equal(g.goodputOfAdmissible, Math.round((300 / 610) * 1000) / 1000);
  });

  it("measures fairness over the whole window and over its contended second half", () => {
    const calls = [call(0, 0, 0), call(0, 0, 1), call(0, 0, 2), call(600, 0, 3), call(700, 1, 0)];
    const f = tenantFairness(calls, new Set(), 1000, ["t0", "t1"]);
    assert.deepEqual(f.tokensByTenant, { t0: 400, t1: 100 });
    assert.equal(f.jainFairness, 0.735);
    assert.equal(f.jainFairnessSecondHalf, 1);
  });

  it("finds the most any interval took beyond its refill, as a share of the bucket", () => {
    // 60/min: a full bucket of 60 at once, then one a second, never overdraws it.
    const burst = Array.from({ length: 60 }, () => ({ at: 0, tokens: 1 }));
    const paced = Array.from({ length: 30 }, (_, i) => ({ at: 1000 * (i + 1), tokens: 1 }));
    assert.equal(admittedOverBucket([...burst, ...paced], { rpm: 60, tpm: 1e9 }).requests, 1);
    // Ten more within the first second is ten more than the bucket held.
    const over = Array.from({ length: 10 }, () => ({ at: 500, tokens: 1 }));
    const r = admittedOverBucket([...burst, ...over, ...paced], { rpm: 60, tpm: 1e9 });
    assert.ok(r.requests > 1.15, String(r.requests));
    assert.equal(r.admittedOverBucket, r.requests);
  });
});
