import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FlatIndex } from "../src/vector/flat-index.js";
import { mergeTopK } from "../src/vector/merge.js";
import { createRng } from "../src/core/rng.js";
import { TopK } from "../src/vector/topk.js";

const SEED = Number(process.env.FC_SEED ?? 20240611);

/** Sorted lists of (id, distance) as shards return them; ids may repeat across lists (replicas). */
const shardLists = fc.array(
  fc
    .array(fc.record({ id: fc.integer({ min: 0, max: 40 }), d: fc.integer({ min: 0, max: 20 }) }), {
      maxLength: 12,
    })
    .map((hits) => {
      const unique = [...new Map(hits.map((h) => [h.id, h])).values()];
      return unique.sort((a, b) => a.d - b.d || a.id - b.id);
    }),
  { maxLength: 5 },
);

void test(`mergeTopK equals sort-then-dedupe of all shard lists (fast-check seed ${SEED})`, () => {
  fc.assert(
    fc.property(shardLists, fc.integer({ min: 1, max: 15 }), (lists, k) => {
      // A replicated vector has the same distance in every shard that holds it.
      const dist = new Map<number, number>();
      const fixed = lists.map((l) =>
        l
          .map((h) => ({ id: h.id, d: dist.get(h.id) ?? (dist.set(h.id, h.d), h.d) }))
          .sort((a, b) => a.d - b.d || a.id - b.id),
      );
      const merged = mergeTopK(
        fixed.map((l, shard) => ({ shard, ids: l.map((h) => h.id), distances: l.map((h) => h.d) })),
        k,
      );
      const expected = [...new Map(fixed.flat().map((h) => [h.id, h])).values()]
        .sort((a, b) => a.d - b.d || a.id - b.id)
        .slice(0, k);
      assert.deepEqual(
        merged.ids,
        expected.map((h) => h.id),
      );
      assert.deepEqual(
        merged.distances,
        expected.map((h) => h.d),
      );
      merged.ids.forEach((id, i) => {
        const from = fixed[merged.shards[i]!]!;
        assert.ok(
          from.some((h) => h.id === id),
          `id ${id} attributed to a shard that does not hold it`,
        );
      });
    }),
    { seed: SEED, numRuns: 300 },
  );
});

void test(`TopK keeps the k smallest by (distance, id) (fast-check seed ${SEED})`, () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 10 }),
      (ds, k) => {
        const top = new TopK(k);
        ds.forEach((d, id) => top.push(id, d));
        const expected = ds
          .map((d, id) => ({ d, id }))
          .sort((a, b) => a.d - b.d || a.id - b.id)
          .slice(0, k);
        assert.deepEqual(
          top.sorted().ids,
          expected.map((e) => e.id),
        );
      },
    ),
    { seed: SEED, numRuns: 300 },
  );
});

void test("FlatIndex finds the true neighbours and forgets removed ids", () => {
  const rng = createRng(3);
  const dim = 8;
  const flat = new FlatIndex(dim, "l2", 2);
  const rows = new Float32Array(50 * dim).map(() => rng.normal());
  for (let i = 0; i < 50; i++) flat.upsert(i, rows, i * dim);
  const query = rows.slice(7 * dim, 8 * dim);
  assert.equal(flat.search(query, 0, 1).ids[0], 7);
  assert.equal(flat.remove(7), true);
  assert.equal(flat.remove(7), false);
  const after = flat.search(query, 0, 49);
  assert.equal(after.ids.length, 49);
  assert.ok(!after.ids.includes(7));
  const naive = Array.from({ length: 50 }, (_, i) => i)
    .filter((i) => i !== 7)
    .map((i) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (rows[i * dim + d]! - query[d]!) ** 2;
      return { i, s };
    })
    .sort((a, b) => a.s - b.s);
  assert.deepEqual(
    after.ids.slice(0, 5),
    naive.slice(0, 5).map((x) => x.i),
  );
});
