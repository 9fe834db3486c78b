import assert from "node:assert/strict";
import { test } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
import { retrievalTool, type SearchableIndex } from "../src/vector/retrieval-tool.js";
import type { SearchResult } from "../src/vector/search-result.js";

function fakeIndex(search: SearchableIndex["search"]): SearchableIndex {
  return { dimension: 3, search };
}

const answer = (k: number): SearchResult => ({
  ids: Array.from({ length: k }, (_, i) => 100 + i),
  distances: Array.from({ length: k }, (_, i) => i / 10),
  shards: [],
  asked: [],
  reasked: [],
  saturated: [],
});

const ctx = (signal = new AbortController().signal) => ({ idempotencyKey: "key-1", signal });

void test("the retrieval tool is a read effect returning the nearest ids with their distances", async () => {
  const calls: { query: readonly number[]; k: number; ef?: number | undefined }[] = [];
  const tool = retrievalTool(
    fakeIndex((query, k, options) => {
      calls.push({ query, k, ef: options?.ef });
      return Promise.resolve(answer(k));
    }),
    { defaultK: 3, ef: 77 },
  );
  assert.equal(tool.effect, "read");
  assert.ok(tool.description.length > 0);
  const out = await tool.run({ vector: [1, 2, 3] }, ctx());
  assert.deepEqual(out.hits, [
    { id: 100, distance: 0 },
    { id: 101, distance: 0.1 },
    { id: 102, distance: 0.2 },
  ]);
  assert.deepEqual(calls, [{ query: [1, 2, 3], k: 3, ef: 77 }]);
});

void test("model-supplied arguments are validated, naming the field", async () => {
  const tool = retrievalTool(
    fakeIndex((_q, k) => Promise.resolve(answer(k))),
    { maxK: 5 },
  );
  const rejectsWith = async (args: unknown, field: string): Promise<void> => {
    await assert.rejects(tool.run(args as { vector: number[] }, ctx()), (err) => {
      assert.ok(isFlotillaError(err, "FLOTILLA_VECTOR_ERROR"));
      assert.equal(err.details.field, field);
      return true;
    });
  };
  await rejectsWith({ vector: [1, 2] }, "args.vector");
  await rejectsWith({ vector: [1, "x", 3] }, "args.vector.1");
  await rejectsWith({ vector: [1, 2, 3], k: 6 }, "args.k");
  await rejectsWith({}, "args.vector");
  assert.throws(
    () =>
      retrievalTool(
        fakeIndex(() => Promise.resolve(answer(1))),
        { maxK: 0 },
      ),
    /maxK/,
  );
});

void test("the tool honours its AbortSignal before and during the search", async () => {
  let searched = 0;
  const never = retrievalTool(
    fakeIndex(() => {
      searched++;
      return new Promise<SearchResult>(() => {});
    }),
  );
  const before = new AbortController();
  before.abort(new Error("cancelled before"));
  await assert.rejects(never.run({ vector: [1, 2, 3] }, ctx(before.signal)), /cancelled before/);
  assert.equal(searched, 0, "an aborted call must not start the search");

  const during = new AbortController();
  const pending = never.run({ vector: [1, 2, 3] }, ctx(during.signal));
  during.abort(new Error("cancelled during"));
  await assert.rejects(pending, /cancelled during/);
  assert.equal(searched, 1);
});
