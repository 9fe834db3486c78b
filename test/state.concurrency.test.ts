import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla, isFlotillaError, region, regionState, type Region } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import type { Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

/**
 * Many writers on one key, from several Flotilla instances (PostgreSQL) or
 * one worker and another connection (SQLite allows one worker per file):
 * no update is lost, whatever the reducer; CAS conflicts are resolved;
 * each claim item is done by exactly one run.
 */

const RUNS = 20;
const WRITES = 25;

const hits = region("cc.hits", { isolation: "findings", reducer: "counter" });
const seen = region("cc.seen", { isolation: "findings", reducer: "union" });
const log = region("cc.log", { isolation: "findings", reducer: "append" });
const sum = region("cc.sum", {
  isolation: "findings",
  reducer: { name: "sum", reduce: (c, n) => ((c as number | undefined) ?? 0) + (n as number) },
});
const board = region("cc.board", { isolation: "doc", maxAttempts: 100 });
const roster = region("cc.roster", {
  isolation: "doc",
  maxAttempts: 100,
  // Three-way merge of a list of names: keep theirs, add what mine added.
  merge: ({ base, mine, theirs }) => {
    const before = new Set((base as string[] | undefined) ?? []);
    const added = (mine as string[]).filter((x) => !before.has(x));
    return [...new Set([...((theirs as string[] | undefined) ?? []), ...added])];
  },
});
const jobs = region("cc.jobs", { isolation: "claim" });

const think = () => new Promise((r) => setTimeout(r, Math.random() * 3));

/** Defines the same agents on an instance (every worker must know them). */
function agents(f: Flotilla) {
  return {
    writer: f.agent("cc.writer", async (ctx, who: number) => {
      for (let i = 0; i < WRITES; i++) {
        const mark = `r${who}-${i}`;
        await think();
        await ctx.state(hits).write("k", 1);
        await ctx.state(seen).write("k", [mark]);
        await ctx.state(log).write("k", mark);
        await ctx.state(sum).write("k", 2);
      }
    }),
    editor: f.agent("cc.editor", async (ctx, who: number) => {
      for (let i = 0; i < 5; i++)
        await ctx.state(board).update("k", async (cur) => {
          await think();
          return { n: ((cur as { n: number } | undefined)?.n ?? 0) + 1 };
        });
      await ctx.state(roster).update("k", async (cur) => {
        await think();
        return [...((cur as string[] | undefined) ?? []), `editor-${who}`];
      });
    }),
    taker: f.agent("cc.taker", async (ctx) => {
      const done: string[] = [];
      for (;;) {
        const item = await ctx.state(jobs).take();
        if (!item) return done;
        await think();
        await ctx.state(jobs).done(item.id);
        done.push(item.id);
      }
    }),
  };
}

async function scenario(instances: Flotilla[], outside: Store): Promise<void> {
  const defs = instances.map(agents);
  const on = (i: number) => defs[i % defs.length] as ReturnType<typeof agents>;
  const at = (i: number) => instances[i % instances.length] as Flotilla;
  // Writers, and writes from outside any run on another connection, at the same time.
  const outsideWrites = (async () => {
    const h = regionState(outside, hits, { actor: "outside" });
    for (let i = 0; i < 50; i++) await h.write("k", 1);
  })();
  const writers = await Promise.all(
    Array.from({ length: RUNS }, (_, i) => at(i).start(on(i).writer, i)),
  );
  await Promise.all([...writers.map((r) => r.result({ timeoutMs: 120_000 })), outsideWrites]);
  const read = async (r: Region) => (await regionState(outside, r).read("k"))?.value;
  const expected = RUNS * WRITES;
  assert.equal(await read(hits), expected + 50, "counter: no update lost");
  const set = (await read(seen)) as string[];
  assert.equal(set.length, expected, "union: every element once");
  const list = (await read(log)) as string[];
  assert.equal(list.length, expected, "append: every write once");
  assert.equal(new Set(list).size, expected, "append: no write twice");
  assert.equal(await read(sum), 2 * expected, "custom reducer: no update lost");

  const editors = await Promise.all(
    Array.from({ length: 10 }, (_, i) => at(i).start(on(i).editor, i)),
  );
  await Promise.all(editors.map((r) => r.result({ timeoutMs: 120_000 })));
  assert.deepEqual(await read(board), { n: 50 }, "doc: every update applied once");
  assert.equal(((await read(roster)) as string[]).length, 10, "doc with merge: every name kept");
  let sets = 0;
  for (const r of editors)
    sets += (await outside.readJournal(r.id)).filter(
      (e) => e.type === "step.completed" && (e.data as { name?: string }).name === "cc.board.set",
    ).length;
  assert.ok(
    sets > 50,
    `doc: expected lost compare-and-sets to be retried (${sets} sets for 50 updates)`,
  );

  await regionState(outside, jobs, { actor: "seed" }).put(
    Array.from({ length: 300 }, (_, i) => ({ id: `job-${i}`, value: i })),
  );
  const takers = await Promise.all(
    Array.from({ length: 12 }, (_, i) => at(i).start(on(i).taker, null)),
  );
  const ledger = new Map<string, number>();
  for (const r of takers)
    for (const id of await r.result({ timeoutMs: 120_000 }))
      ledger.set(id, (ledger.get(id) ?? 0) + 1);
  assert.equal(ledger.size, 300, "claim: every item taken");
  assert.deepEqual([...new Set(ledger.values())], [1], "claim: no item taken twice");
  const items = await regionState(outside, jobs).items();
  assert.ok(items.every((i) => i.status === "done" && i.attempts === 1));
}

describe("concurrent writers on one key", () => {
  it("SQLite: 20 runs and another connection lose nothing", async () => {
    const path = tempStore();
    const f = await Flotilla.open({ store: path, worker: { pollMs: 20, concurrency: RUNS } });
    const outside = await openStore(path);
    try {
      await scenario([f], outside);
    } finally {
      await f.close();
      await outside.close();
    }
  });

  it("PostgreSQL: 3 worker instances and another connection lose nothing", async (t) => {
    const skip = await postgresSkipReason();
    if (skip) return t.skip(skip);
    const db = await freshDatabase();
    const instances: Flotilla[] = [];
    let outside: Store | undefined;
    try {
      for (let i = 0; i < 3; i++)
        instances.push(
          await Flotilla.open({ store: db.url, worker: { pollMs: 20, concurrency: 8 } }),
        );
      outside = await openStore(db.url);
      await scenario(instances, outside);
    } finally {
      for (const f of instances) await f.close();
      await outside?.close();
      await db.drop();
    }
  });

  it("a doc update that keeps losing ends in a typed conflict after maxAttempts", async () => {
    const f = await Flotilla.open({ store: tempStore(), worker: { pollMs: 20 } });
    try {
      const contested = region("cc.contested", { isolation: "doc", maxAttempts: 3 });
      const outside = regionState(f, contested, { actor: "rival" });
      const agent = f.agent("cc.loser", async (ctx) => {
        try {
          await ctx.state(contested).update("k", async (cur) => {
            // Someone else writes between every read and write of this run.
            const now = await outside.read("k");
            await outside.write("k", { rival: true }, { ifVersion: now?.version ?? 0 });
            return { mine: cur ?? null };
          });
          return "written";
        } catch (err) {
          return isFlotillaError(err) ? [err.code, err.details.attempts as number] : "untyped";
        }
      });
      assert.deepEqual(await (await f.start(agent, null)).result({ timeoutMs: 10_000 }), [
        "FLOTILLA_STATE_CONFLICT",
        3,
      ]);
    } finally {
      await f.close();
    }
  });
});
