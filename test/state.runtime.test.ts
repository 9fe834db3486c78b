import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla, isFlotillaError, region, regionState } from "../src/index.js";
import type { Json } from "../src/core/json.js";
import { tempStore } from "./helpers/tempStore.js";

/** ctx.state in one process on SQLite: each isolation's operations, provenance, history, watch, replay. */

async function open(store = tempStore(), options: { inlineWaitMs?: number } = {}) {
  return Flotilla.open({
    store,
    worker: { pollMs: 20, leaseMs: 2000, concurrency: 20 },
    stopGraceMs: 500,
    ...options,
  });
}

const notes = region("rt.notes", { isolation: "findings", reducer: "append" });
const tags = region("rt.tags", { isolation: "findings", reducer: "union" });
const best = region("rt.best", { isolation: "findings", reducer: "max" });
const worst = region("rt.worst", { isolation: "findings", reducer: "min" });
const latest = region("rt.latest", { isolation: "findings", reducer: "lww" });
const top2 = region("rt.top2", {
  isolation: "findings",
  reducer: {
    name: "top2",
    reduce: (current, input) =>
      [...((current as number[] | undefined) ?? []), input as number]
        .sort((a, b) => b - a)
        .slice(0, 2),
  },
});
const plan = region("rt.plan", { isolation: "doc" });
const pages = region("rt.pages", { isolation: "claim", leaseMs: 60_000 });
const memo = region("rt.memo", { isolation: "scratch" });

describe("ctx.state", () => {
  it("merges findings by each declared reducer, with provenance and history", async () => {
    const f = await open();
    try {
      const agent = f.agent("rt.findings", async (ctx) => {
        await ctx.state(notes).write("n", "first");
        await ctx.state(notes).write("n", { second: true }, { verified: true });
        await ctx.state(tags).write("t", ["a", "b"]);
        await ctx.state(tags).write("t", ["b", "c", "a"]);
        for (const x of [3, 9, 4]) {
          await ctx.state(best).write("x", x);
          await ctx.state(worst).write("x", x);
          await ctx.state(top2).write("x", x);
        }
        await ctx.state(latest).write("l", "old");
        const receipt = await ctx.state(latest).write("l", "new");
        const read = async (r: typeof notes | typeof tags, k: string) =>
          (await ctx.state(r).read(k))?.value;
        return {
          notes: await read(notes, "n"),
          tags: await read(tags, "t"),
          best: (await ctx.state(best).read("x"))?.value ?? null,
          worst: (await ctx.state(worst).read("x"))?.value ?? null,
          top2: (await ctx.state(top2).read("x"))?.value ?? null,
          latest: (await ctx.state("rt.latest").read("l")) as unknown as Json,
          receipt: receipt as unknown as Json,
          history: (await ctx.state(notes).history("n")) as unknown as Json,
        };
      });
      const run = await f.start(agent, null);
      const out = await run.result({ timeoutMs: 10_000 });
      assert.deepEqual(out.notes, ["first", { second: true }]);
      assert.deepEqual(out.tags, ["a", "b", "c"]);
      assert.equal(out.best, 9);
      assert.equal(out.worst, 3);
      assert.deepEqual(out.top2, [9, 4]);
      const latestValue = out.latest as {
        value: Json;
        version: number;
        writtenBy: { runId: string; agent: string };
      };
      assert.equal(latestValue.value, "new");
      assert.equal(latestValue.version, 2);
      assert.equal(latestValue.writtenBy.runId, run.id);
      assert.equal(latestValue.writtenBy.agent, "rt.findings");
      const receipt = out.receipt as { version: number; step: string };
      assert.equal(receipt.version, 2);
      const history = out.history as {
        version: number;
        op: string;
        input: Json;
        by: { step: string; verified: boolean };
      }[];
      assert.deepEqual(
        history.map((h) => [h.version, h.op, h.input, h.by.step, h.by.verified]),
        [
          [1, "append", "first", "0", false],
          [2, "append", { second: true }, "1", true],
        ],
      );
    } finally {
      await f.close();
    }
  });

  it("gives readers that require verified values only what verified writes made", async () => {
    const f = await open();
    try {
      const facts = region("rt.facts", { isolation: "findings", reducer: "append" });
      const researcher = f.agent(
        "rt.researcher",
        async (ctx, claim: { text: string; checked: boolean }) => {
          await ctx.state(facts).write("acme", claim.text, { verified: claim.checked });
        },
      );
      for (const claim of [
        { text: "founded 1999", checked: true },
        { text: "CEO is a cat", checked: false },
        { text: "HQ in Lyon", checked: true },
      ])
        await (await f.start(researcher, claim)).result({ timeoutMs: 10_000 });
      const composer = f.agent("rt.composer", async (ctx) => ({
        all: (await ctx.state(facts).read("acme"))?.value ?? null,
        verified: (await ctx.state(facts).read("acme", { verified: true })) as unknown as Json,
      }));
      const out = await (await f.start(composer, null)).result({ timeoutMs: 10_000 });
      assert.deepEqual(out.all, ["founded 1999", "CEO is a cat", "HQ in Lyon"]);
      const verified = out.verified as { value: Json; verified: boolean; version: number };
      assert.deepEqual(verified.value, ["founded 1999", "HQ in Lyon"]);
      assert.equal(verified.verified, true);
      assert.equal(verified.version, 3);
      const outside = regionState(f, facts);
      assert.equal((await outside.read("acme"))?.verified, false);
    } finally {
      await f.close();
    }
  });

  it("edits a doc by compare-and-set: a stale version is a typed conflict, update() rebases", async () => {
    const f = await open();
    try {
      const agent = f.agent("rt.doc", async (ctx) => {
        const doc = ctx.state(plan);
        const created = await doc.write("p", { steps: ["draft"] }, { ifVersion: 0 });
        let conflict: Json = null;
        try {
          await doc.write("p", { steps: ["stale"] }, { ifVersion: 0 });
        } catch (err) {
          conflict = isFlotillaError(err) ? [err.code, err.details.current as number] : "other";
        }
        // The update function may take steps of its own (a model call, here the clock).
        const updated = await doc.update("p", async (cur) => ({
          steps: [...((cur as { steps: string[] }).steps ?? []), "review"],
          at: await ctx.now(),
        }));
        return { created: created.version, conflict, updated: updated as unknown as Json };
      });
      const out = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
      assert.equal(out.created, 1);
      assert.deepEqual(out.conflict, ["FLOTILLA_STATE_CONFLICT", 1]);
      const updated = out.updated as { value: Json; version: number };
      assert.deepEqual((updated.value as { steps: string[] }).steps, ["draft", "review"]);
      assert.equal(updated.version, 2);
    } finally {
      await f.close();
    }
  });

  it("keeps scratch keys private to each run", async () => {
    const f = await open();
    try {
      const agent = f.agent("rt.scratch", async (ctx, me: string) => {
        const before = await ctx.state(memo).read("who");
        await ctx.state(memo).write("who", me);
        return {
          before: before?.value ?? null,
          after: (await ctx.state(memo).read("who"))?.value ?? null,
        };
      });
      const a = await f.start(agent, "a");
      const b = await f.start(agent, "b");
      assert.deepEqual(await a.result({ timeoutMs: 10_000 }), { before: null, after: "a" });
      assert.deepEqual(await b.result({ timeoutMs: 10_000 }), { before: null, after: "b" });
      assert.equal((await regionState(f, memo).read("who", { runId: a.id }))?.value, "a");
    } finally {
      await f.close();
    }
  });

  it("waits for a key in memory, and suspended until the write that wakes it", async () => {
    for (const inlineWaitMs of [5_000, 0]) {
      const f = await open(tempStore(), { inlineWaitMs });
      try {
        const ready = region(`rt.ready.${inlineWaitMs}`, {
          isolation: "findings",
          reducer: "counter",
        });
        const watcher = f.agent(`rt.watcher.${inlineWaitMs}`, async (ctx) => {
          const seen = await ctx.state(ready).watch("go", { after: 1 });
          return { version: seen.version, value: seen.value };
        });
        const run = await f.start(watcher, null);
        const outside = regionState(f, ready, { actor: "starter" });
        await outside.write("go", 1);
        await new Promise((r) => setTimeout(r, 300));
        if (inlineWaitMs === 0) assert.equal((await f.getRun(run.id)).status, "waiting");
        await outside.write("go", 1);
        assert.deepEqual(await run.result({ timeoutMs: 10_000 }), { version: 2, value: 2 });
      } finally {
        await f.close();
      }
    }
  });

  it("gives up a watch at its timeout with a typed error", async () => {
    const f = await open(tempStore(), { inlineWaitMs: 0 });
    try {
      const never = region("rt.never", { isolation: "findings", reducer: "counter" });
      const watcher = f.agent("rt.timeout", async (ctx) => {
        try {
          await ctx.state(never).watch("k", { timeoutMs: 200 });
          return "seen";
        } catch (err) {
          return isFlotillaError(err) ? err.code : "other";
        }
      });
      const run = await f.start(watcher, null);
      assert.equal(await run.result({ timeoutMs: 10_000 }), "FLOTILLA_TIMEOUT");
    } finally {
      await f.close();
    }
  });

  it("replays what a run read, even after the key changed", async () => {
    const f = await open(tempStore(), { inlineWaitMs: 0 });
    try {
      const price = region("rt.price", { isolation: "findings", reducer: "lww" });
      const outside = regionState(f, price);
      await outside.write("eur", 10);
      let executions = 0;
      const agent = f.agent("rt.replay", async (ctx) => {
        executions++;
        const seen = await ctx.state(price).read("eur");
        await ctx.waitFor("go");
        return seen?.value ?? null;
      });
      const run = await f.start(agent, null);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await f.getRun(run.id)).status, "waiting");
      await outside.write("eur", 99);
      await f.signal(run.id, "go");
      assert.equal(await run.result({ timeoutMs: 10_000 }), 10);
      assert.ok(executions >= 2, "the run was replayed");
    } finally {
      await f.close();
    }
  });

  it("hands out claim items, refuses done() by a run that lost its lease, and frees a failed run's item", async () => {
    const f = await open();
    try {
      await regionState(f, pages, { actor: "seeder" }).put([
        { id: "p1", value: { url: "/a" } },
        { id: "p2", value: { url: "/b" } },
      ]);
      const slow = f.agent("rt.slow", async (ctx) => {
        const item = await ctx.state(pages).take({ leaseMs: 50 });
        await ctx.sleep(400);
        try {
          await ctx.state(pages).done(item?.id ?? "", "late");
          return "done";
        } catch (err) {
          return isFlotillaError(err) ? err.code : "other";
        }
      });
      const crasher = f.agent("rt.crasher", async (ctx) => {
        await ctx.state(pages).take();
        throw new Error("crashed while holding it");
      });
      const worker = f.agent("rt.worker", async (ctx) => {
        const got: Json[] = [];
        for (;;) {
          const item = await ctx.state(pages).take();
          if (!item) return got;
          await ctx.state(pages).done(item.id, "ok");
          got.push([item.id, item.attempt]);
        }
      });
      const slowRun = await f.start(slow, null);
      await new Promise((r) => setTimeout(r, 100));
      const crash = await f.start(crasher, null);
      await assert.rejects(crash.result({ timeoutMs: 10_000 }));
      const got = await (await f.start(worker, null)).result({ timeoutMs: 10_000 });
      // p1's lease expired (slow run) so the crasher took it next; its failure freed it again.
      assert.deepEqual(got, [
        ["p1", 3],
        ["p2", 1],
      ]);
      assert.equal(await slowRun.result({ timeoutMs: 10_000 }), "FLOTILLA_CLAIM_LOST");
      const items = await regionState(f, pages).items();
      assert.deepEqual(
        items.map((i) => [i.id, i.status, i.result]),
        [
          ["p1", "done", "ok"],
          ["p2", "done", "ok"],
        ],
      );
    } finally {
      await f.close();
    }
  });
});
