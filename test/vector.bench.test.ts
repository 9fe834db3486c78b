import assert from "node:assert/strict";
import { test } from "node:test";
import { vectorBench } from "../bench/vector.js";

void test("the vector benchmark runs end to end on synthetic data in quick mode", async () => {
  const labels: string[] = [];
  const out = await vectorBench({ quick: true, onProgress: (_d, _t, label) => labels.push(label) });
  assert.match(String(out.dataset), /synthetic/);
  assert.equal(out.k, 10);
  assert.ok(labels.includes("monitor") && labels.length >= 5);
  assert.deepEqual(out.exactMerge, { recall: 1 });
  const curves = out.curves as Record<string, { recall: number; qps: number }[]>;
  for (const name of ["single", "fanout4", "adaptive4", "routed8", "routedReplicated8"]) {
    assert.ok((curves[name]?.length ?? 0) > 0, `missing curve ${name}`);
    for (const p of curves[name]!) assert.ok(p.recall >= 0 && p.recall <= 1 && p.qps > 0);
  }
  for (const [name, k] of [
    ["matched", 10],
    ["matchedLargeK", 100],
  ] as const) {
    const m = out[name] as {
      k: number;
      recall: number;
      at: Record<string, { ef: number; recall: number; beamPerQuery: number } | null>;
    };
    assert.equal(m.k, k);
    for (const strategy of ["single", "fanout4", "adaptive4"]) {
      const at = m.at[strategy];
      assert.ok(at && at.recall >= m.recall, `${name}.${strategy} never reached ${m.recall}`);
    }
    if (k === 100) {
      // Full fan-out cannot search a shard with a beam under k; asking each for its share can.
      assert.ok(m.at.adaptive4!.beamPerQuery < m.at.fanout4!.beamPerQuery);
    }
  }
  const monitor = out.monitor as { sampled: number; absError: number };
  assert.ok(monitor.sampled > 0);
  // With half the queries sampled, the estimate must track the offline figure closely.
  assert.ok(monitor.absError <= 0.05, `monitor off by ${monitor.absError}`);
  const routed = out.routedReplicated8 as { storageFactor: number };
  assert.ok(routed.storageFactor > 1 && routed.storageFactor <= 8);
});
