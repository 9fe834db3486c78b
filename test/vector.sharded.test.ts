import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
import { FlatIndex } from "../src/vector/flat-index.js";
import { HashRouter } from "../src/vector/hash-router.js";
import { normalizeRows } from "../src/vector/distance.js";
import { recallAtK } from "../src/vector/recall.js";
import { ShardedIndex } from "../src/vector/sharded-index.js";
import { clusteredData } from "../src/vector/synthetic.js";

const DIM = 16;
const N = 2000;
const K = 10;
const data = clusteredData({ n: N, queries: 40, dimension: DIM, clusters: 12, seed: 11 });
const ids = Array.from({ length: N }, (_, i) => i);
const row = (rows: Float32Array, i: number): Float32Array => rows.subarray(i * DIM, (i + 1) * DIM);

let index: ShardedIndex;
let truth: FlatIndex;

before(async () => {
  index = await ShardedIndex.create(new HashRouter("full", { shards: 4, seed: 1 }), {
    dimension: DIM,
    efConstruction: 100,
  });
  await index.addBatch(ids, data.vectors);
  truth = new FlatIndex(DIM, "cosine", N);
  const unit = normalizeRows(data.vectors.slice(), DIM);
  for (let i = 0; i < N; i++) truth.upsert(i, unit, i * DIM);
});

after(async () => {
  await index.close();
});

function expectVectorError(field: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(
      isFlotillaError(err, "FLOTILLA_VECTOR_ERROR"),
      `expected FLOTILLA_VECTOR_ERROR, got ${String(err)}`,
    );
    assert.equal(err.details.field, field);
    return true;
  };
}

void test("hash sharding spreads vectors over every shard, on no more threads than cores", () => {
  const sizes = index.sizes();
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    N,
  );
  for (const s of sizes) assert.ok(s > N / 8, `shard sizes ${sizes.join(",")} are unbalanced`);
  assert.ok(index.threads <= 4);
});

void test("exact search merged over shards equals exact search over one flat index", async () => {
  const merged = await index.exactBatch(data.queries, K);
  merged.forEach((m, q) => {
    const unit = normalizeRows(row(data.queries, q).slice(), DIM);
    assert.deepEqual(m.ids, truth.search(unit, 0, K).ids);
  });
});

void test("fan-out and adaptive search find nearly all true neighbours at a generous ef", async () => {
  const exact = await index.exactBatch(data.queries, K);
  for (const router of [undefined, new HashRouter("adaptive", { shards: 4, seed: 1 })]) {
    const found = await index.searchBatch(
      data.queries,
      K,
      router ? { ef: 200, router } : { ef: 200 },
    );
    const recall =
      found.reduce((a, r, q) => a + recallAtK(r.ids, exact[q]!.ids, K), 0) / found.length;
    assert.ok(recall >= 0.97, `${router?.strategy ?? "hash-fanout"} recall ${recall}`);
    for (const r of found)
      assert.equal(new Set(r.ids).size, r.ids.length, "duplicate ids in a merged result");
  }
});

void test("adaptive search asks each shard for less than k and re-asks the saturated ones", async () => {
  const adaptive = new HashRouter("adaptive", { shards: 4, seed: 1 });
  const found = await index.searchBatch(data.queries, K, { ef: 80, router: adaptive });
  for (const r of found) {
    const first = r.asked.slice(0, 4);
    assert.ok(first.every((t) => t.k === adaptive.shareOf(K) && t.k < K));
    assert.deepEqual(
      r.asked.slice(4).map((t) => t.shard),
      r.reasked,
    );
    assert.ok(r.asked.slice(4).every((t) => t.k === K));
  }
});

void test("a removed id is never returned and re-adding replaces the vector", async () => {
  const target = 123;
  const query = row(data.vectors, target);
  assert.equal((await index.search(query, 1, { ef: 100 })).ids[0], target);
  await index.remove(target);
  assert.equal(index.has(target), false);
  assert.ok(!(await index.search(query, K, { ef: 100 })).ids.includes(target));
  assert.ok(!(await index.exact(query, K)).ids.includes(target));
  const elsewhere = row(data.vectors, 7);
  await index.add(target, elsewhere);
  const back = await index.exact(elsewhere, 2);
  assert.deepEqual(
    [...back.ids].sort((a, b) => a - b),
    [7, target],
  );
  assert.equal(index.size, N);
});

void test("save then load answers the same queries the same way", async () => {
  const dir = await mkdtemp(join(tmpdir(), "flotilla-vector-"));
  try {
    await index.save(dir);
    const loaded = await ShardedIndex.load(dir, { threads: 1 });
    try {
      assert.equal(loaded.size, index.size);
      assert.deepEqual(loaded.sizes(), index.sizes());
      const a = await index.searchBatch(data.queries, K, { ef: 64 });
      const b = await loaded.searchBatch(data.queries, K, { ef: 64 });
      assert.deepEqual(
        b.map((r) => r.ids),
        a.map((r) => r.ids),
      );
    } finally {
      await loaded.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test("bad input is a typed error naming the field", async () => {
  await assert.rejects(index.search([1, 2, 3], K), expectVectorError("query"));
  await assert.rejects(index.search(row(data.queries, 0), 0), expectVectorError("k"));
  await assert.rejects(index.search(row(data.queries, 0), 2.5), expectVectorError("k"));
  await assert.rejects(index.remove(N + 99), expectVectorError("id"));
  await assert.rejects(index.add(-1, row(data.queries, 0)), expectVectorError("id"));
  await assert.rejects(index.add(5000, new Float32Array(DIM)), expectVectorError("vector"));
  await assert.rejects(
    index.search(row(data.queries, 0), K, { ef: 0 }),
    expectVectorError("search options.ef"),
  );
  await assert.rejects(
    index.search(row(data.queries, 0), K, { router: new HashRouter("full", { shards: 3 }) }),
    expectVectorError("router"),
  );
  await assert.rejects(
    ShardedIndex.create(new HashRouter("full", { shards: 2 }), { dimension: 0 }),
    expectVectorError("ShardedIndex options.dimension"),
  );
  assert.throws(
    () => new HashRouter("full", { shards: 0 }),
    expectVectorError("HashRouter options.shards"),
  );
});

void test("an aborted search rejects with the signal's reason", async () => {
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  await assert.rejects(
    index.search(row(data.queries, 0), K, { signal: controller.signal }),
    /stop/,
  );
});

void test("a closed index refuses work instead of hanging", async () => {
  const small = await ShardedIndex.create(new HashRouter("full", { shards: 2 }), { dimension: 2 });
  await small.add(1, [1, 0]);
  await small.close();
  await assert.rejects(small.search([1, 0], 1), (err) =>
    isFlotillaError(err, "FLOTILLA_VECTOR_ERROR"),
  );
});
