import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import type { Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

const skip = await postgresSkipReason();

/**
 * ctx.spawn journals its child without the check an effect's intent makes
 * (`requireNotCancelled`): a parent that has not yet heard of a durable
 * cancel request starts a child, which has no request of its own and acts
 * until the parent's cancellation asks it to stop. On SQLite another
 * connection's request is heard within about 20 ms; a parent stepping to a
 * spawn in that window is enough, no fault needed. Tried five times.
 */
it("sqlite: a parent spawns no child once another connection's cancel request is durable", async () => {
  const url = tempStore();
  const f = await Flotilla.open({ store: url, worker: { pollMs: 20 } });
  const other = await openStore(url);
  try {
    let entered = () => {};
    let release = () => {};
    const wait = f.tool("findings.gate", {
      effect: "read",
      run: (_a: null) =>
        new Promise<string>((resolve) => {
          release = () => resolve("open");
          entered();
        }),
    });
    const act = f.tool("findings.note", { effect: "irreversible", run: async () => "noted" });
    const child = f.agent("findings.noteChild", async (ctx) => ctx.call(act, null));
    const parent = f.agent("findings.gatedParent", async (ctx) => {
      await ctx.call(wait, null);
      return ctx.spawn(child, null);
    });
    const late: string[] = [];
    for (let i = 0; i < 5; i++) {
      const running = new Promise<void>((resolve) => (entered = resolve));
      const run = await f.start(parent, null);
      await running;
      await other.requestCancel(run.id, "an operator elsewhere");
      release();
      await run.result({ timeoutMs: 20_000 }).catch(() => undefined);
      const journal = await f.store.readJournal(run.id);
      const requested = journal.find((e) => e.type === "run.cancel-requested")?.id ?? Infinity;
      const spawned = journal.find((e) => e.type === "child.spawned")?.id ?? -Infinity;
      if (spawned > requested) late.push(run.id);
    }
    assert.deepEqual(late, [], "children were spawned after their parent's cancel request");
  } finally {
    await other.close();
    await f.close();
  }
});

/**
 * Findings of `flotilla bench cancel`, reproduced on PostgreSQL. The server
 * drops the worker's LISTEN connection (as a restart or failover does) just
 * before another process requests the cancel: the NOTIFY is lost, as the
 * listener documents, and the worker holds the run on defaults (lease 30 s,
 * renewed every 10 s).
 */
describe("a cancel whose notification is lost", { skip }, () => {
  let db: { url: string; drop: () => Promise<void> };
  let admin: pg.Client;
  let f: Flotilla;
  let other: Store;
  before(async () => {
    db = await freshDatabase();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  after(async () => {
    await admin.end();
    await db.drop();
  });

  /** Drops the worker's LISTEN connection, then requests the cancel from another connection. */
  async function cancelWhileDeaf(runId: string): Promise<number> {
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    assert.equal(rows.length, 1, "the worker should hold one LISTEN connection");
    await admin.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
    await other.requestCancel(runId, "an operator elsewhere");
    return Date.now();
  }

  const open = async () => {
    f = await Flotilla.open({ store: db.url, worker: { pollMs: 20 } });
    other = await openStore(db.url, { listen: false });
  };
  const close = async () => {
    await other.close();
    await f.close();
  };

  it(
    "still reaches the running tool before it finishes 8 s of work",
    { timeout: 30_000 },
    async () => {
      await open();
      try {
        let entered!: () => void;
        const running = new Promise<void>((resolve) => (entered = resolve));
        let heard = false;
        const slow = f.tool("findings.slow", {
          effect: "irreversible",
          run: (_a: null, ctx) =>
            new Promise<string>((resolve, reject) => {
              entered();
              const timer = setTimeout(() => resolve("done"), 8_000);
              ctx.signal.addEventListener("abort", () => {
                heard = true;
                clearTimeout(timer);
                reject(new Error("aborted"));
              });
            }),
        });
        const agent = f.agent("findings.slowParent", async (ctx) => ctx.call(slow, null));
        const run = await f.start(agent, null);
        await running;
        await cancelWhileDeaf(run.id);
        await run.result({ timeoutMs: 20_000 }).catch(() => undefined);
        assert.ok(heard, "the tool ran its 8 s to the end: the cancel never reached it");
      } finally {
        await close();
      }
    },
  );

  it(
    "lets the parent start no child that acts after the request is durable",
    { timeout: 30_000 },
    async () => {
      await open();
      try {
        let entered!: () => void;
        const running = new Promise<void>((resolve) => (entered = resolve));
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const acted: number[] = [];
        const wait = f.tool("findings.wait", {
          effect: "read",
          run: async () => {
            entered();
            await gate;
            return "ready";
          },
        });
        const act = f.tool("findings.act", {
          effect: "irreversible",
          run: async () => {
            acted.push(Date.now());
            return "acted";
          },
        });
        const child = f.agent("findings.child", async (ctx) => ctx.call(act, null));
        const parent = f.agent("findings.parent", async (ctx) => {
          await ctx.call(wait, null);
          return ctx.spawn(child, null);
        });
        const run = await f.start(parent, null);
        await running;
        const durableAt = await cancelWhileDeaf(run.id);
        release();
        await run.result({ timeoutMs: 20_000 }).catch(() => undefined);
        const children = await f.store.listRuns({ parentId: run.id });
        assert.deepEqual(
          acted.filter((t) => t > durableAt),
          [],
          `a child (${children.map((c) => `${c.id} ${c.status}`).join(", ")}) acted after the parent's cancel was durable`,
        );
      } finally {
        await close();
      }
    },
  );
});
