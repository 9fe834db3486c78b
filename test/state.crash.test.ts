import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crashVariant } from "../bench/state/crash.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { createRng } from "../src/core/rng.js";
import { Flotilla, region, regionState } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import type { Commit, Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

/**
 * Exactly once under crashes: a state write commits in its own transaction,
 * then its step is journaled. A crash between the two must not apply the
 * write again when the run is replayed.
 */

const tally = region("crash.tally", { isolation: "findings", reducer: "counter" });
const trail = region("crash.trail", { isolation: "findings", reducer: "append" });

/** The store, except that journaling a state step fails (as if the worker died) every `every`-th time. */
function losingJournal(inner: Store, every: number): { store: Store; lost: () => number } {
  let seen = 0;
  let lost = 0;
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === "commit")
        return (c: Commit) => {
          const stateStep = c.events.some(
            (e) => e.type === "step.completed" && (e.data as { kind?: string }).kind === "state",
          );
          if (stateStep && ++seen % every === 0) {
            lost++;
            return Promise.reject(new Error("connection lost after the state write committed"));
          }
          return target.commit(c);
        };
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as () => unknown).bind(target) : value;
    },
  });
  return { store, lost: () => lost };
}

async function journalLostAfterWrite(url: string): Promise<void> {
  const inner = await openStore(url);
  const { store, lost } = losingJournal(inner, 7);
  const f = await Flotilla.open({ store, worker: { pollMs: 20, leaseMs: 2000 }, stopGraceMs: 200 });
  try {
    const writer = f.agent("crash.writer", async (ctx, n: number) => {
      for (let i = 0; i < n; i++) {
        await ctx.state(tally).write("k", 1);
        await ctx.state(trail).write("k", i);
      }
      return null;
    });
    const run = await f.start(writer, 30);
    await run.result({ timeoutMs: 60_000 });
    assert.ok(lost() >= 8, `the journal lost ${lost()} state steps`);
    const journal = await inner.readJournal(run.id);
    assert.equal(
      journal.filter((e) => e.type === "run.interrupted").length,
      lost(),
      "each lost step interrupted its execution",
    );
    assert.equal((await regionState(inner, tally).read("k"))?.value, 30, "no write applied twice");
    assert.deepEqual(
      (await regionState(inner, trail).read("k"))?.value,
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.equal((await regionState(inner, tally).history("k")).length, 30);
  } finally {
    await f.close();
    await inner.close();
  }
}

async function killedWorkers(url: string, seed: number): Promise<void> {
  // Slow thinkers, so the kills land while the runs still write.
  const r = await crashVariant(url, {
    agents: 6,
    updates: 40,
    thinkMs: 60,
    kills: 2,
    rng: createRng(seed),
  });
  assert.ok(r.kills >= 1, `seed ${seed}: a worker was killed mid-way`);
  assert.equal(r.runsCompleted, r.runs, `seed ${seed}: every run completes`);
  assert.equal(r.lostUpdates, 0, `seed ${seed}: no update lost`);
  assert.equal(r.appliedTwice, 0, `seed ${seed}: no update applied twice`);
}

describe("ctx.state under crashes", () => {
  it("SQLite: a step whose journal event was lost after its write is not written again", async () => {
    await journalLostAfterWrite(tempStore());
  });

  it("PostgreSQL: a step whose journal event was lost after its write is not written again", async (t) => {
    const skip = await postgresSkipReason();
    if (skip) return t.skip(skip);
    const db = await freshDatabase();
    try {
      await journalLostAfterWrite(db.url);
    } finally {
      await db.drop();
    }
  });

  it("worker processes SIGKILLed mid-way lose no update and apply none twice", async (t) => {
    const seed = Number(process.env.FLOTILLA_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`# state crash seed ${seed} (replay with FLOTILLA_SEED=${seed})`);
    await killedWorkers(tempStore(), seed);
    const skip = await postgresSkipReason();
    if (skip) return t.skip(skip);
    const db = await freshDatabase();
    try {
      await killedWorkers(db.url, seed);
    } finally {
      await db.drop();
    }
  });
});
