import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import type { Agent } from "../src/runtime/Agent.js";
import type { Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

const skip = await postgresSkipReason();

/**
 * A cancel request is durable for the whole tree at once: the run's live
 * descendants are marked in the same transaction, so a running child's next
 * effect intent is refused, and the parent's next `ctx.spawn` is refused
 * too, even before any worker has heard of the request. No fault is needed;
 * each case is tried five times. A gate tool holds the run at the chosen
 * point; it is released just after the request is durable.
 */
describe("sqlite: after a parent's cancel request is durable (from another connection)", () => {
  let f: Flotilla;
  let other: Store;
  let entered = () => {};
  let release = () => {};
  const acted: number[] = [];

  /** Five runs of `parent`, each cancelled while its gate is closed; their ids. */
  async function gated(parent: Agent<null, unknown>): Promise<string[]> {
    const tries: string[] = [];
    for (let i = 0; i < 5; i++) {
      const running = new Promise<void>((resolve) => (entered = resolve));
      const run = await f.start(parent, null);
      await running;
      await other.requestCancel(run.id, "an operator elsewhere");
      release();
      await run.result({ timeoutMs: 20_000 }).catch(() => undefined);
      // The children stop once the parent's cancellation asks them to: wait for that.
      for (const child of await f.store.listRuns({ parentId: run.id }))
        await f.waitForResult(child.id, 20_000).catch(() => undefined);
      tries.push(run.id);
    }
    return tries;
  }

  before(async () => {
    const url = tempStore();
    f = await Flotilla.open({ store: url, worker: { pollMs: 20 } });
    other = await openStore(url);
  });
  after(async () => {
    await other.close();
    await f.close();
  });

  const gate = (name: string) =>
    f.tool(name, {
      effect: "read",
      run: (_a: null) =>
        new Promise<string>((resolve) => {
          release = () => resolve("open");
          entered();
        }),
    });
  const note = (name: string) =>
    f.tool(name, {
      effect: "irreversible",
      run: async () => {
        acted.push(Date.now());
        return "noted";
      },
    });

  it("a running child starts no effect", async () => {
    const [wait, act] = [gate("findings.childGate"), note("findings.childNote")];
    const child = f.agent("findings.gatedChild", async (ctx) => {
      await ctx.call(wait, null);
      return ctx.call(act, null);
    });
    const parent = f.agent("findings.waitingParent", async (ctx, _input: null) =>
      ctx.spawn(child, null),
    );
    acted.length = 0;
    await gated(parent);
    // The child's note comes after its gate opens, which is after the request was durable.
    assert.equal(
      acted.length,
      0,
      `a child acted after its parent's cancel request ${acted.length} times in 5`,
    );
  });

  it("the parent spawns no child", async () => {
    const [wait, act] = [gate("findings.parentGate"), note("findings.note")];
    const child = f.agent("findings.noteChild", async (ctx) => ctx.call(act, null));
    const parent = f.agent("findings.gatedParent", async (ctx, _input: null) => {
      await ctx.call(wait, null);
      return ctx.spawn(child, null);
    });
    const late: string[] = [];
    for (const runId of await gated(parent)) {
      const journal = await f.store.readJournal(runId);
      const requested = journal.find((e) => e.type === "run.cancel-requested")?.id ?? Infinity;
      const spawned = journal.find((e) => e.type === "child.spawned")?.id ?? -Infinity;
      if (spawned > requested) late.push(runId);
    }
    assert.deepEqual(
      late.length,
      0,
      `${late.length} of 5 parents spawned a child after their cancel request`,
    );
  });
});

/**
 * PostgreSQL: the server drops the worker's LISTEN connection (as a restart
 * or failover does) just before another process requests the cancel, so its
 * NOTIFY is lost. On reconnecting the store looks up the cancel requests of
 * leased runs, and the worker stops the run then, not at its next lease
 * renewal (every 10 s on defaults).
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
