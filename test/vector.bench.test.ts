import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { vectorBench } from "../bench/vector/index.js";
import { vectorReport } from "../bench/vector/report.js";
import { ThreadedSingleIndex } from "../bench/vector/threaded-single.js";
import { HashRouter } from "../src/vector/hash-router.js";
import { ShardedIndex } from "../src/vector/sharded-index.js";
import { clusteredData } from "../src/vector/synthetic.js";

void test("the threaded single-index baseline answers exactly as the index it copies", async () => {
  const dim = 16;
  const data = clusteredData({ n: 600, queries: 25, dimension: dim, clusters: 6, seed: 3 });
  const index = await ShardedIndex.create(new HashRouter("full", { shards: 1 }), {
    dimension: dim,
    efConstruction: 50,
  });
  await index.addBatch(
    Array.from({ length: 600 }, (_, i) => i),
    data.vectors,
  );
  const baseline = await ThreadedSingleIndex.open(index, 2, { m: 16, efConstruction: 50, seed: 1 });
  try {
    assert.equal(baseline.threads, Math.min(2, availableParallelism()));
    for (const searched of [baseline, baseline.limitedTo(1)]) {
      const got = await searched.searchBatch(data.queries, 5, { ef: 20 });
      const want = await index.searchBatch(data.queries, 5, { ef: 20 });
      assert.deepEqual(
        got.map((r) => r.ids),
        want.map((r) => r.ids),
      );
      assert.deepEqual(got[0]!.asked, want[0]!.asked);
    }
    const exact = await baseline.exactBatch(data.queries, 5);
    assert.deepEqual(exact, await index.exactBatch(data.queries, 5));
  } finally {
    await Promise.all([baseline.close(), index.close()]);
  }
});

void test("the vector benchmark runs end to end on synthetic data in quick mode", async () => {
  const labels: string[] = [];
  const out = await vectorBench({ quick: true, onProgress: (_d, _t, label) => labels.push(label) });
  assert.match(String(out.dataset), /synthetic/);
  // The baseline gets the threads the sharded side uses, and both figures are reported.
  assert.equal(out.threads.single, out.threads.sharded);
  assert.ok(out.threads.single >= 1);
  assert.match(
    vectorReport(out),
    new RegExp(`single index ${out.threads.single}, sharded indexes ${out.threads.sharded}`),
  );
  assert.equal(out.k, 10);
  assert.ok(labels.includes("monitor") && labels.length >= 5);
  assert.deepEqual(out.exactMerge, { recall: 1 });
  for (const [name, points] of Object.entries(out.curves)) {
    assert.ok(points.length > 0, `missing curve ${name}`);
    for (const p of points) assert.ok(p.recall >= 0 && p.recall <= 1 && p.qps > 0);
  }
  for (const [name, k] of [
    ["matched", 10],
    ["matchedLargeK", 100],
  ] as const) {
    const m = out[name];
    assert.equal(m.k, k);
    assert.deepEqual(m.threads, { single: out.threads.single, sharded: out.threads.sharded });
    assert.ok((m.singleThreadScaling ?? 0) > 0);
    for (const strategy of ["single", "fanout4", "adaptive4"] as const) {
      const at = m.at[strategy];
      assert.ok(at && at.recall >= m.recall, `${name}.${strategy} never reached ${m.recall}`);
    }
    if (k === 100) {
      // Full fan-out cannot search a shard with a beam under k; asking each for its share can.
      assert.ok(m.at.adaptive4!.beamPerQuery < m.at.fanout4!.beamPerQuery);
    }
  }
  const monitor = out.monitor;
  assert.ok(monitor.evaluated > 0 && monitor.evaluated <= monitor.sampled);
  // With half the queries sampled, the estimate must track the offline figure closely.
  assert.ok(monitor.absError <= 0.05, `monitor off by ${monitor.absError}`);
  const routed = out.routedReplicated8;
  assert.ok(routed.storageFactor > 1 && routed.storageFactor <= 8);
});
