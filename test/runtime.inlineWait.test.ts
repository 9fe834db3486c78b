import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla, type FlotillaOptions } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import type { JournalEvent, Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

const pgSkip = await postgresSkipReason();

/** Executions of a run: each one journals `run.resumed` as it starts replaying. */
function executions(journal: readonly JournalEvent[]): number {
  return journal.filter((e) => e.type === "run.resumed").length;
}

function suspensions(journal: readonly JournalEvent[]): JournalEvent[] {
  return journal.filter((e) => e.type === "run.suspended");
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise with its resolver, for agents to say they reached a point. */
function mark(): { reached: Promise<void>; reach: () => void } {
  let reach!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  return { reached, reach };
}

function open(store: string | Store, options: Partial<FlotillaOptions> = {}): Promise<Flotilla> {
  return Flotilla.open({
    store,
    worker: { pollMs: 20, leaseMs: 2000 },
    stopGraceMs: 500,
    // Long enough that a wait given up early is a decision under test, never a slow machine.
    inlineWaitMs: 30_000,
    ...options,
  });
}

/** The behaviours every store must show; `store()` names a store shared by one test's instances. */
function inlineWaitSuite(kind: string, store: () => string): void {
  it(`${kind}: a parent of 30 sequential children runs in one execution, replaying nothing`, async () => {
    const f = await open(store());
    const child = f.agent(`${kind}.seq.child`, async (ctx, i: number) => {
      await ctx.now();
      return i * 2;
    });
    const parent = f.agent(`${kind}.seq.parent`, async (ctx, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(await ctx.spawn(child, i));
      return out;
    });
    const run = await f.start(parent, 30);
    const expected = Array.from({ length: 30 }, (_, i) => i * 2);
    assert.deepEqual(await run.result({ timeoutMs: 60_000 }), expected);
    const journal = await f.store.readJournal(run.id);
    // Each wait used to suspend the parent, and each wake-up replayed it: 31 executions.
    assert.equal(executions(journal), 1);
    assert.equal(suspensions(journal).length, 0);
    await f.close();
  });

  it(`${kind}: parallel spawns wait in memory together`, async () => {
    const f = await open(store());
    const child = f.agent(`${kind}.par.child`, async (ctx, i: number) => {
      await ctx.now();
      return i;
    });
    const parent = f.agent(`${kind}.par.parent`, async (ctx) => {
      const [a, b] = await Promise.all([ctx.spawn(child, 1), ctx.spawn(child, 2)]);
      const [c, d] = await ctx.all([ctx.spawn(child, 3), (branch) => branch.spawn(child, 4)]);
      return [a, b, c, d];
    });
    const run = await f.start(parent, null);
    assert.deepEqual(await run.result({ timeoutMs: 20_000 }), [1, 2, 3, 4]);
    assert.equal(executions(await f.store.readJournal(run.id)), 1);
    await f.close();
  });

  it(`${kind}: a signal sent during the window wakes the run in memory, through this process or not`, async () => {
    const f = await open(store());
    const waiting = mark();
    const reached = f.tool(`${kind}.sig.reached`, {
      effect: "read",
      run: async () => waiting.reach(),
    });
    const agent = f.agent(`${kind}.sig.agent`, async (ctx) => {
      await ctx.call(reached, null);
      const a = await ctx.waitFor<number>("a");
      const b = await ctx.waitFor<number>("b");
      return [a, b];
    });
    const run = await f.start(agent, null);
    await waiting.reached;
    await run.signal("a", 1);
    await until("signal a is consumed", async () =>
      (await f.store.readJournal(run.id)).some(
        (e) => e.type === "step.completed" && (e.data as { name?: string }).name === "a",
      ),
    );
    // Sent past this Flotilla instance, as another process would: found by polling the store.
    await f.store.sendSignal(run.id, "b", 2);
    assert.deepEqual(await run.result({ timeoutMs: 20_000 }), [1, 2]);
    const journal = await f.store.readJournal(run.id);
    assert.equal(executions(journal), 1);
    assert.equal(suspensions(journal).length, 0);
    await f.close();
  });

  it(`${kind}: a cancel ends a wait in memory: the waiting execution itself cancels the run`, async () => {
    const f = await open(store(), { inlineWaitMs: 600_000 });
    const waiting = mark();
    const reached = f.tool(`${kind}.cancel.reached`, {
      effect: "read",
      run: async () => waiting.reach(),
    });
    const child = f.agent(`${kind}.cancel.child`, async (ctx) => {
      await ctx.call(reached, null);
      return ctx.waitFor("never");
    });
    const parent = f.agent(`${kind}.cancel.parent`, async (ctx) => ctx.spawn(child, null));
    const run = await f.start(parent, null);
    await waiting.reached;
    // Under a ten-minute window a wait that ignored the abort would outlast cancel()'s own timeout.
    await f.cancel(run.id);
    assert.equal((await f.getRun(run.id)).status, "cancelled");
    const journal = await f.store.readJournal(run.id);
    assert.equal(executions(journal), 1);
    assert.equal(suspensions(journal).length, 0, "cancelled while held, never suspended");
    await f.close();
  });

  it(`${kind}: a parent never holds a slot its children need (concurrency 1 and 2)`, async () => {
    // A ten-minute window: a parent that kept its slot would stall its children past the timeout.
    for (const concurrency of [1, 2]) {
      const f = await open(store(), {
        inlineWaitMs: 600_000,
        worker: { pollMs: 20, leaseMs: 2000, concurrency },
      });
      const leaf = f.agent(`${kind}.slots${concurrency}.leaf`, async (ctx, i: number) => {
        await ctx.now();
        return i;
      });
      const middle = f.agent(`${kind}.slots${concurrency}.middle`, async (ctx, i: number) => {
        return (await ctx.spawn(leaf, i)) + 10;
      });
      const top = f.agent(`${kind}.slots${concurrency}.top`, async (ctx) => {
        const a = await ctx.spawn(leaf, 1);
        const b = await ctx.spawn(middle, 2);
        return [a, b];
      });
      const run = await f.start(top, null);
      assert.deepEqual(
        await run.result({ timeoutMs: 20_000 }),
        [1, 12],
        `concurrency ${concurrency}`,
      );
      await f.close();
    }
  });

  it(`${kind}: a wait in memory gives its slot up to work that becomes runnable on a full worker`, async () => {
    const f = await open(store(), {
      inlineWaitMs: 600_000,
      worker: { pollMs: 20, leaseMs: 2000, concurrency: 2 },
    });
    const busy = mark();
    const release = mark();
    const work = f.tool(`${kind}.full.work`, {
      effect: "read",
      run: async () => {
        busy.reach();
        await release.reached;
      },
    });
    const waiter = f.agent(`${kind}.full.waiter`, async (ctx) => ctx.waitFor<number>("go"));
    const worker = f.agent(`${kind}.full.busy`, async (ctx) => ctx.call(work, null));
    const quick = f.agent(`${kind}.full.quick`, async () => "quick");
    const waiting = await f.start(waiter, null);
    await until("the waiter holds its slot", async () => {
      const journal = await f.store.readJournal(waiting.id);
      return executions(journal) === 1;
    });
    const working = await f.start(worker, null);
    await busy.reached;
    // Both slots taken, one by a wait that could end in ten minutes: the new run must not wait.
    assert.equal(await (await f.start(quick, null)).result({ timeoutMs: 20_000 }), "quick");
    assert.equal(suspensions(await f.store.readJournal(waiting.id)).length, 1);
    release.reach();
    await waiting.signal("go", 1);
    assert.equal(await waiting.result({ timeoutMs: 20_000 }), 1);
    await working.result({ timeoutMs: 20_000 });
    await f.close();
  });

  for (const crash of ["close", "stop"] as const) {
    it(`${kind}: a parent interrupted (${crash}) while waiting in memory resumes elsewhere, each child started once`, async () => {
      const where = store();
      const calls = new Map<number, number>();
      const waiting = mark();
      const define = (f: Flotilla) => {
        const started = f.tool(`${kind}.${crash}.started`, {
          effect: "idempotent",
          run: async (i: number) => {
            calls.set(i, (calls.get(i) ?? 0) + 1);
            return i;
          },
        });
        const reached = f.tool(`${kind}.${crash}.reached`, {
          effect: "read",
          run: async () => waiting.reach(),
        });
        const child = f.agent(`${kind}.${crash}.child`, async (ctx, i: number) => {
          await ctx.call(started, i);
          if (i !== 2) return i * 3;
          await ctx.call(reached, null);
          await ctx.waitFor("go");
          return i * 3;
        });
        return f.agent(`${kind}.${crash}.parent`, async (ctx) => {
          const out: number[] = [];
          for (let i = 0; i < 4; i++) out.push(await ctx.spawn(child, i));
          return out;
        });
      };
      const first = await open(where);
      const run = await first.start(define(first), null);
      await waiting.reached;
      const before = await first.store.readJournal(run.id);
      assert.equal(suspensions(before).length, 0, "the parent waits in memory");
      // close(): the waits give up their slots and the runs suspend; stop(0): leases dropped mid-wait.
      if (crash === "stop") await (await first.worker()).stop(0);
      await first.close();

      const second = await open(where);
      define(second);
      await second.worker();
      const [waitingChild] = (await second.store.listRuns({ parentId: run.id })).filter(
        (c) => (c.input as number) === 2,
      );
      assert.ok(waitingChild);
      await second.signal(waitingChild.id, "go");
      assert.deepEqual(await second.handle(run.id).result({ timeoutMs: 20_000 }), [0, 3, 6, 9]);
      const children = await second.store.listRuns({ parentId: run.id });
      assert.equal(children.length, 4);
      for (const c of children) {
        const created = (await second.store.readJournal(c.id)).filter(
          (e) => e.type === "run.created",
        );
        assert.equal(created.length, 1, `child ${c.id} created once`);
      }
      assert.deepEqual(
        [...calls.entries()].sort((a, b) => a[0] - b[0]),
        [
          [0, 1],
          [1, 1],
          [2, 1],
          [3, 1],
        ],
      );
      const spawned = (await second.store.readJournal(run.id)).filter(
        (e) => e.type === "child.spawned",
      );
      assert.equal(spawned.length, 4);
      await second.close();
    });
  }

  it(`${kind}: a run suspends only once no branch waits in memory`, async () => {
    const f = await open(store(), { inlineSleepMs: 0 });
    const waiting = mark();
    const reached = f.tool(`${kind}.mixed.reached`, {
      effect: "read",
      run: async () => waiting.reach(),
    });
    const child = f.agent(`${kind}.mixed.child`, async (ctx) => {
      await ctx.call(reached, null);
      return ctx.waitFor<string>("go");
    });
    const parent = f.agent(`${kind}.mixed.parent`, async (ctx) =>
      ctx.all([(b) => b.sleep(200), (b) => b.spawn(child, null)]),
    );
    const run = await f.start(parent, null);
    await waiting.reached;
    const [childRun] = await f.store.listRuns({ parentId: run.id });
    assert.ok(childRun);
    await f.signal(childRun.id, "go", "done");
    assert.deepEqual(await run.result({ timeoutMs: 20_000 }), [null, "done"]);
    const journal = await f.store.readJournal(run.id);
    const firstSuspension = suspensions(journal)[0];
    assert.ok(firstSuspension, "the durable sleep still suspends the run");
    const childDone = journal.find(
      (e) => e.type === "step.completed" && (e.data as { kind?: string }).kind === "spawn",
    );
    assert.ok(childDone && childDone.id < firstSuspension.id, "the spawn ended in memory first");
    assert.deepEqual((firstSuspension.data as { waitingFor: string[] }).waitingFor, [
      "timer 0.0.0",
    ]);
    await f.close();
  });
}

describe("waits held in memory (SQLite)", () => {
  inlineWaitSuite("sqlite", tempStore);

  it("sqlite: a wait in memory gives the run up once its lease cannot be renewed", async () => {
    const inner = await openStore(tempStore());
    let renewals = true;
    const store = new Proxy(inner, {
      get(target, prop) {
        if (prop === "renewLeases" && !renewals)
          return () => Promise.reject(new Error("store unreachable"));
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as () => unknown).bind(target) : value;
      },
    });
    const f = await open(store, {
      inlineWaitMs: 600_000,
      worker: { pollMs: 20, leaseMs: 300 },
    });
    const waiting = mark();
    const reached = f.tool("fence.reached", { effect: "read", run: async () => waiting.reach() });
    const child = f.agent("fence.child", async (ctx) => {
      await ctx.call(reached, null);
      return ctx.waitFor<number>("go");
    });
    const parent = f.agent("fence.parent", async (ctx) => (await ctx.spawn(child, null)) + 1);
    const run = await f.start(parent, null);
    await waiting.reached;
    const worker = await f.worker();
    renewals = false;
    await until("both held runs are given up", () => worker.outcomes["lease-lost"] >= 2);
    renewals = true;
    const [childRun] = await f.store.listRuns({ parentId: run.id });
    assert.ok(childRun);
    await f.signal(childRun.id, "go", 41);
    assert.equal(await run.result({ timeoutMs: 20_000 }), 42);
    const journal = await f.store.readJournal(run.id);
    assert.equal(suspensions(journal).length, 0, "a fenced execution journals nothing more");
    assert.ok(executions(journal) >= 2);
    await f.close();
    await inner.close();
  });
});

describe("waits held in memory (PostgreSQL)", pgSkip ? { skip: pgSkip } : {}, () => {
  let db: { url: string; drop: () => Promise<void> };
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  inlineWaitSuite("postgres", () => db.url);

  it("postgres: a parent waits in memory for children another process runs", async () => {
    const children = await open(db.url);
    const parents = await open(db.url);
    const child = children.agent("pg.cross.child", async (ctx, i: number) => {
      await ctx.now();
      return i + 100;
    });
    await children.worker();
    // The parents' process does not run children: it only knows the agent to spawn.
    const parent = parents.agent("pg.cross.parent", async (ctx, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(await ctx.spawn(child, i));
      return out;
    });
    const run = await parents.start(parent, 10);
    const expected = Array.from({ length: 10 }, (_, i) => i + 100);
    assert.deepEqual(await run.result({ timeoutMs: 60_000 }), expected);
    assert.equal(executions(await parents.store.readJournal(run.id)), 1);
    await parents.close();
    await children.close();
  });
});
