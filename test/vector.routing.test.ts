import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizeRows } from "../src/vector/distance.js";
import { HashRouter } from "../src/vector/hash-router.js";
import { KMeansRouter } from "../src/vector/kmeans-router.js";
import { routerFromJSON } from "../src/vector/router-state.js";
import { clusteredData } from "../src/vector/synthetic.js";

const DIM = 16;
const data = clusteredData({ n: 4000, queries: 0, dimension: DIM, clusters: 20, seed: 5 });
const unit = normalizeRows(data.vectors.slice(), DIM);
const rowOf = (i: number): Float32Array => unit.subarray(i * DIM, (i + 1) * DIM);

void test("balanced k-means keeps partitions near n/partitions even with skewed clusters", () => {
  const router = KMeansRouter.train(data.vectors, DIM, { partitions: 8, seed: 1 });
  const sizes = new Array<number>(8).fill(0);
  for (let i = 0; i < 4000; i++) sizes[router.place(i, rowOf(i))[0]!]!++;
  // Clusters are Zipf-sized (the largest ~3.5x the mean); balanced training must not follow them.
  assert.ok(Math.max(...sizes) <= 1.6 * (4000 / 8), `partition sizes ${sizes.join(",")}`);
  assert.ok(Math.min(...sizes) >= 0.4 * (4000 / 8), `partition sizes ${sizes.join(",")}`);
});

void test("boundary replication stores a vector in its nearest partition first, within (1+ε), at most maxCopies", () => {
  const router = KMeansRouter.train(data.vectors, DIM, {
    partitions: 8,
    seed: 1,
    epsilon: 0.3,
    maxCopies: 3,
  });
  let copies = 0;
  for (let i = 0; i < 4000; i++) {
    const placed = router.place(i, rowOf(i));
    const ranked = router.rank(rowOf(i));
    assert.equal(placed[0], ranked[0]!.shard);
    assert.ok(placed.length <= 3);
    const dist = new Map(ranked.map((r) => [r.shard, r.dist]));
    for (const s of placed) assert.ok(dist.get(s)! <= 1.3 * ranked[0]!.dist + 1e-9);
    copies += placed.length;
  }
  assert.ok(copies > 4000, "ε = 0.3 should replicate some boundary vectors");
  const plain = KMeansRouter.train(data.vectors, DIM, { partitions: 8, seed: 1 });
  assert.equal(plain.strategy, "kmeans");
  for (let i = 0; i < 100; i++) assert.equal(plain.place(i, rowOf(i)).length, 1);
});

void test("routed plans probe the nprobe nearest partitions and prune beyond (1+ε₂)", () => {
  const router = KMeansRouter.train(data.vectors, DIM, {
    partitions: 8,
    seed: 1,
    epsilon: 0.1,
    queryEpsilon: 0,
  });
  const open = KMeansRouter.train(data.vectors, DIM, { partitions: 8, seed: 1, epsilon: 0.1 });
  const q = rowOf(0);
  const ranked = open.rank(q);
  const plan = open.plan(q, { k: 10, ef: 50, nprobe: 3 });
  assert.deepEqual(
    plan.map((t) => t.shard),
    ranked.slice(0, 3).map((r) => r.shard),
  );
  assert.ok(plan.every((t) => t.k === 10 && t.ef === 50));
  // ε₂ = 0 keeps only partitions exactly as near as the nearest.
  assert.deepEqual(
    router.plan(q, { k: 10, ef: 50, nprobe: 8 }).map((t) => t.shard),
    [ranked[0]!.shard],
  );
});

void test("routers survive a JSON round trip with the same placement", () => {
  const routers = [
    new HashRouter("full", { shards: 4, seed: 3 }),
    new HashRouter("adaptive", { shards: 4, seed: 3, margin: 1.5 }),
    KMeansRouter.train(data.vectors, DIM, { partitions: 4, seed: 2, epsilon: 0.2 }),
  ];
  for (const r of routers) {
    const back = routerFromJSON(
      JSON.parse(JSON.stringify(r.toJSON())) as ReturnType<typeof r.toJSON>,
    );
    assert.equal(back.strategy, r.strategy);
    assert.equal(back.placement, r.placement);
    for (let i = 0; i < 50; i++) assert.deepEqual(back.place(i, rowOf(i)), r.place(i, rowOf(i)));
  }
});

void test("adaptive per-shard k is the expected share plus a binomial margin, and re-asks only shards that may hold more", () => {
  const router = new HashRouter("adaptive", { shards: 4, margin: 2 });
  // k=10 over 4 shards: mean 2.5, sd sqrt(10·¼·¾) ≈ 1.37 → ceil(2.5 + 2.74) = 6.
  assert.equal(router.shareOf(10), 6);
  const plan = router.plan(new Float32Array(DIM), { k: 10, ef: 100, nprobe: 1 });
  assert.deepEqual(plan[0], { shard: 0, k: 6, ef: 60 });
  const knobs = { k: 10, ef: 100, nprobe: 1 };
  const again = router.followUp(
    [
      { task: plan[0], returned: 6, lastDistance: 0.2 }, // all six inside the merged top-k: may hold more
      { task: plan[1]!, returned: 6, lastDistance: 0.9 }, // its sixth was beaten: it had enough
      { task: plan[2]!, returned: 3, lastDistance: 0.1 }, // returned fewer than asked: it is exhausted
    ],
    0.5,
    knobs,
  );
  assert.deepEqual(again, [{ shard: 0, k: 10, ef: 100 }]);
  assert.deepEqual(
    new HashRouter("full", { shards: 4 }).followUp(
      [{ task: plan[0], returned: 6, lastDistance: 0 }],
      1,
      knobs,
    ),
    [],
  );
});
