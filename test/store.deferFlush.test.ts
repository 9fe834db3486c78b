import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type Database from "better-sqlite3";
import type pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { isFlotillaError } from "../src/core/errors.js";
import { newRunId } from "../src/core/ids.js";
import { openStore } from "../src/store/open.js";
import type { Commit, EffectClaim, Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

/**
 * A commit that defers its flush (an idempotent effect's intent) is applied
 * and fenced like any other, and the connection it used flushes every commit
 * after it again: a setting left behind would silently weaken the journal.
 */
function deferFlushSuite(
  name: string,
  open: () => Promise<{ store: Store; destroy: () => Promise<void> }>,
  /** The flush setting of the connection(s) commits use, as the database reports it. */
  flushSetting: (store: Store) => Promise<string>,
  durable: string,
  skip?: string,
): void {
  describe(`deferred flush: ${name}`, { skip: skip ?? false }, () => {
    let store: Store;
    let destroy: () => Promise<void>;
    before(async () => ({ store, destroy } = await open()));
    after(async () => {
      await store.close();
      await destroy();
    });

    async function leased(): Promise<{ runId: string; leaseToken: string }> {
      const agent = `defer-${newRunId()}`;
      const { run } = await store.createRun({ id: newRunId(), agent, input: null });
      const [claimed] = await store.claimRuns({
        workerId: "w",
        agents: [agent],
        limit: 1,
        leaseMs: 30_000,
      });
      assert.ok(claimed);
      return { runId: run.id, leaseToken: claimed.leaseToken };
    }

    const intent = (runId: string, leaseToken: string, step: string): Commit => ({
      runId,
      fence: { leaseToken, requireNotCancelled: true },
      events: [{ type: "effect.intent", step, data: { kind: "tool", name: "t" } }],
      effects: [{ key: `${runId}:${step}`, runId, step, tool: "t", state: "intent" }],
      deferFlush: true,
    });

    it("applies deferred commits, alone and mixed with flushed ones, and flushes again after", async () => {
      const { runId, leaseToken } = await leased();
      await store.commit(intent(runId, leaseToken, "1"));
      assert.equal(await flushSetting(store), durable);
      await Promise.all([
        store.commit(intent(runId, leaseToken, "2")),
        store.commit({
          runId,
          fence: { leaseToken },
          events: [{ type: "step.completed", step: "0", data: 1 }],
        }),
      ]);
      assert.equal(await flushSetting(store), durable);
      const types = (await store.readJournal(runId)).map((e) => `${e.type}:${e.step ?? ""}`);
      for (const want of ["effect.intent:1", "effect.intent:2", "step.completed:0"]) {
        assert.ok(types.includes(want), `${want} missing from ${types.join(", ")}`);
      }
      assert.equal((await store.getEffect("t", `${runId}:1`))?.state, "intent");
    });

    it("applies a deferred intent with no key row, alone, and flushes again after", async () => {
      const { runId, leaseToken } = await leased();
      const { effects: _rows, ...alone } = intent(runId, leaseToken, "1");
      await store.commit(alone);
      assert.equal(await flushSetting(store), durable);
      const types = (await store.readJournal(runId)).map((e) => e.type);
      assert.deepEqual(types.slice(-1), ["effect.intent"]);
      assert.equal(await store.getEffect("t", `${runId}:1`), undefined);
    });

    it("claims an effect key, and every commit after flushes again", async () => {
      const { runId } = await leased();
      const claim = { key: `k-${runId}`, runId, step: "1", tool: "t", argsHash: "a" };
      assert.equal((await store.claimEffectKey(claim)).runId, runId);
      assert.equal(await flushSetting(store), durable);
      // A second claim finds the holder: it reads, writes nothing, and leaves the setting as it was.
      const other = await store.claimEffectKey({ ...claim, runId: "run_other", step: "2" });
      assert.equal(other.runId, runId);
      assert.equal(await flushSetting(store), durable);
    });

    it("refuses a deferred commit whose fence fails, and flushes again after", async () => {
      const { runId } = await leased();
      await assert.rejects(store.commit(intent(runId, "stale", "1")), (err) =>
        isFlotillaError(err, "FLOTILLA_LEASE_LOST"),
      );
      assert.equal(await flushSetting(store), durable);
      assert.deepEqual(
        (await store.readJournal(runId)).map((e) => e.type),
        ["run.created"],
      );
    });
  });
}

// synchronous is per connection; FULL (2) makes every commit fsync the WAL.
deferFlushSuite(
  "sqlite",
  async () => ({ store: await openStore(tempStore()), destroy: () => Promise.resolve() }),
  (store) =>
    Promise.resolve(
      String(
        (store as unknown as { db: Database.Database }).db.pragma("synchronous", { simple: true }),
      ),
    ),
  "2",
);

const skip = await postgresSkipReason();

/** A claim to make on a fresh run id (claims are not fenced: no run is needed). */
function claim(): EffectClaim {
  const runId = newRunId();
  return { key: `k-${runId}`, runId, step: "1", tool: "t", argsHash: "a" };
}

describe("an effect-key claim is not flushed on its own", () => {
  it("sqlite: runs with synchronous=NORMAL, then FULL again", async () => {
    const store = await openStore(tempStore());
    const db = (store as unknown as { db: Database.Database }).db;
    // Every statement of the connection, prepared or not, runs through this prototype's run.
    const proto = Object.getPrototypeOf(db.prepare("SELECT 1")) as {
      run: (this: { source: string }, ...args: unknown[]) => unknown;
    };
    const run = proto.run;
    const ran: string[] = [];
    proto.run = function (...args) {
      ran.push(this.source);
      return run.apply(this, args);
    };
    try {
      await store.claimEffectKey(claim());
    } finally {
      proto.run = run;
      await store.close();
    }
    assert.deepEqual(
      ran.filter((sql) => sql.startsWith("PRAGMA synchronous")),
      ["PRAGMA synchronous = NORMAL", "PRAGMA synchronous = FULL"],
    );
  });

  it("postgres: commits asynchronously", { skip: skip ?? false }, async () => {
    const db = await freshDatabase();
    const store = await openStore(db.url);
    const pool = (store as unknown as { pool: pg.Pool }).pool;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    const sent: string[] = [];
    (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args) => {
      const [q] = args;
      sent.push(typeof q === "string" ? q : (q as { text: string }).text);
      return query(...args);
    };
    try {
      await store.claimEffectKey(claim());
    } finally {
      await store.close();
      await db.drop();
    }
    assert.equal(sent.length, 1);
    assert.match(sent[0] ?? "", /set_config\('synchronous_commit', 'off', true\)/);
  });
});

// One connection in the pool, so the setting read is the one the commits used.
deferFlushSuite(
  "postgres",
  async () => {
    const db = await freshDatabase();
    return { store: await openStore(db.url, { poolSize: 1 }), destroy: db.drop };
  },
  async (store) => {
    const pool = (store as unknown as { pool: pg.Pool }).pool;
    const { rows } = await pool.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
    return rows[0]?.synchronous_commit ?? "";
  },
  "on",
  skip,
);
