import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import type { Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

/** The store, counting the calls a started run makes besides its own commits. */
function counted(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

const skipPostgres = await postgresSkipReason();

describe("starting runs", () => {
  it("runs a run started here at once: leased at creation, no claim, no journal read, no read back", async () => {
    const { store, calls } = counted(await openStore(tempStore()));
    const f = await Flotilla.open({ store, worker: { pollMs: 60_000 } });
    try {
      const echo = f.agent("echo", (_ctx, n: number) => Promise.resolve(n * 2));
      await f.worker();
      calls.clear();
      const run = await f.start(echo, 21);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 42);
      assert.equal(calls.get("claimRuns") ?? 0, 0, "claimed through the store");
      assert.equal(calls.get("readJournal") ?? 0, 0, "read its journal back");
      // result() may look once before the run ends, never again after it was handed the run.
      assert.ok((calls.get("getRun") ?? 0) <= 1, `getRun called ${calls.get("getRun")} times`);
      const journal = (await f.store.readJournal(run.id)).map((e) => e.type);
      assert.deepEqual(journal, ["run.created", "run.resumed", "run.completed"]);
    } finally {
      await f.close();
      await store.close();
    }
  });

  it("leaves a run to be claimed when the worker has no slot free, and runs it once one frees", async () => {
    const f = await Flotilla.open({
      store: tempStore(),
      worker: { concurrency: 1, pollMs: 20 },
    });
    try {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const hold = f.tool("hold", { effect: "read", run: () => gate });
      const slow = f.agent("slow", async (ctx) => {
        await ctx.call(hold, null);
        return "slow";
      });
      const quick = f.agent("quick", () => Promise.resolve("quick"));
      const first = await f.start(slow, null);
      const second = await f.start(quick, null);
      assert.equal((await second.status()).status, "pending");
      release();
      assert.equal(await first.result({ timeoutMs: 10_000 }), "slow");
      assert.equal(await second.result({ timeoutMs: 10_000 }), "quick");
      const types = (await f.store.readJournal(second.id)).map((e) => e.type);
      assert.deepEqual(types, ["run.created", "run.resumed", "run.completed"]);
    } finally {
      await f.close();
    }
  });

  it("returns the existing run for a reused idempotency key without leasing anything", async () => {
    const f = await Flotilla.open({ store: tempStore() });
    try {
      const echo = f.agent("echo", (_ctx, n: number) => Promise.resolve(n));
      const a = await f.start(echo, 1, { idempotencyKey: "k" });
      assert.equal(await a.result({ timeoutMs: 10_000 }), 1);
      const b = await f.start(echo, 1, { idempotencyKey: "k" });
      assert.equal(b.id, a.id);
      const resumed = (await f.store.readJournal(a.id)).filter((e) => e.type === "run.resumed");
      assert.equal(resumed.length, 1);
    } finally {
      await f.close();
    }
  });

  it("refuses a pool size that is not a whole number of connections from 1 to 1000", async () => {
    for (const poolSize of [0, 1.5, "8", 5000]) {
      await assert.rejects(
        Flotilla.open({ store: tempStore(), poolSize: poolSize as number }),
        (err: Error & { code?: string }) =>
          err.code === "FLOTILLA_INVALID_ARGUMENT" && /poolSize/.test(err.message),
      );
    }
  });

  it("does not spin on a due timer of a run it cannot run", async () => {
    const { store, calls } = counted(await openStore(tempStore()));
    const f = await Flotilla.open({ store, worker: { pollMs: 5_000 } });
    try {
      f.agent("mine", () => Promise.resolve(null));
      // A run of an agent this worker does not define, waiting on a timer that is already due.
      const { run } = await store.createRun({ id: "other-1", agent: "other", input: null });
      await store.registerWorker("elsewhere");
      const [claimed] = await store.claimRuns({
        workerId: "elsewhere",
        agents: ["other"],
        limit: 1,
        leaseMs: 30_000,
      });
      await store.commit({
        runId: run.id,
        fence: { leaseToken: claimed?.leaseToken ?? "" },
        events: [{ type: "run.suspended", data: null }],
        status: { status: "waiting", wakeAt: Date.now() - 1_000 },
        release: true,
      });
      await store.unregisterWorker("elsewhere");
      await f.worker();
      calls.clear();
      await new Promise((r) => setTimeout(r, 500));
      const looks = calls.get("claimRuns") ?? 0;
      assert.ok(looks <= 40, `claimed ${looks} times in 500 ms`);
    } finally {
      await f.close();
      await store.close();
    }
  });

  it(
    "hears a run settle in another process's worker without polling for it (PostgreSQL)",
    { skip: skipPostgres ?? false },
    async () => {
      const db = await freshDatabase();
      const worker = await Flotilla.open({ store: db.url });
      const client = await Flotilla.open({ store: db.url, worker: false });
      try {
        worker.agent("echo", (_ctx, n: number) => Promise.resolve(n + 1));
        const echo = client.agent("echo", (_ctx, n: number) => Promise.resolve(n + 1));
        await worker.worker();
        const heard: string[] = [];
        const off = client.store.onSettled((id) => id && heard.push(id));
        const run = await client.start(echo, 1);
        assert.equal(await run.result({ timeoutMs: 10_000 }), 2);
        for (let i = 0; i < 100 && !heard.includes(run.id); i++)
          await new Promise((r) => setTimeout(r, 20));
        off();
        assert.ok(heard.includes(run.id), "the settlement was not pushed");
      } finally {
        await client.close();
        await worker.close();
        await db.drop();
      }
    },
  );
});

/** `store` whose worker registration takes `ms`: a start that is still in progress. */
function slowToRegister(store: Store, ms: number): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== "registerWorker" || typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, ms));
        return (value as (...a: unknown[]) => Promise<void>).apply(target, args);
      };
    },
  });
}

describe("starting and stopping the worker", () => {
  it("shares one start between concurrent calls: one registration, one loop", async () => {
    const inner = await openStore(tempStore());
    const { store, calls } = counted(slowToRegister(inner, 50));
    const f = await Flotilla.open({ store, worker: { pollMs: 60_000 } });
    try {
      const echo = f.agent("echo", (_ctx, n: number) => Promise.resolve(n));
      const [a, b, run] = await Promise.all([f.worker(), f.worker(), f.start(echo, 7)]);
      assert.equal(a, b);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 7);
      assert.equal(calls.get("registerWorker"), 1);
      await a.stop();
      await Promise.all([a.start(), a.start()]);
      assert.equal(calls.get("registerWorker"), 2, "a restart registers once more, not twice");
    } finally {
      await f.close();
      await inner.close();
    }
  });

  it("stops a worker closed while it starts: it never claims after close", async () => {
    const inner = await openStore(tempStore());
    const { store, calls } = counted(slowToRegister(inner, 100));
    const f = await Flotilla.open({ store, worker: { pollMs: 20 } });
    try {
      const starting = f.worker();
      await f.close();
      await starting;
      const claims = calls.get("claimRuns") ?? 0;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(calls.get("claimRuns") ?? 0, claims, "the worker claimed after close");
      assert.equal(calls.get("unregisterWorker"), 1);
    } finally {
      await inner.close();
    }
  });

  it("starts a worker started while it stops once the stop is done, with its heartbeat", async () => {
    const { store, calls } = counted(await openStore(tempStore()));
    const f = await Flotilla.open({ store, worker: { pollMs: 60_000, leaseMs: 200 } });
    try {
      let runs = 0;
      // Outlives several leases: only a live heartbeat keeps it on this worker.
      const slow = f.agent("slow", async (_ctx, n: number) => {
        runs++;
        await new Promise((r) => setTimeout(r, 800));
        return n;
      });
      const w = await f.worker();
      await Promise.all([w.stop(), w.start()]);
      assert.equal(calls.get("unregisterWorker"), 1);
      assert.equal(calls.get("registerWorker"), 2);
      const live = await f.store.liveWorkerAgents();
      assert.ok(
        live.some((l) => l.agent === "slow"),
        "the stop unregistered the worker that started after it",
      );
      const run = await f.start(slow, 3);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 3, "the restarted worker runs");
      assert.equal(runs, 1, "the run lost its lease and ran again");
      assert.equal(w.outcomes["lease-lost"], 0);
    } finally {
      await f.close();
      await store.close();
    }
  });
});

describe("the worker's options", () => {
  it("are those given to Flotilla.open, with those given to worker() over them", async () => {
    const opened = { leaseMs: 150, pollMs: 60_000, concurrency: 3 };
    const a = await Flotilla.open({ store: tempStore(), worker: opened });
    const b = await Flotilla.open({ store: tempStore(), worker: opened });
    try {
      assert.deepEqual(pick((await a.worker()).options), {
        leaseMs: 150,
        pollMs: 60_000,
        concurrency: 3,
      });
      assert.deepEqual(pick((await b.worker({ pollMs: 30 })).options), {
        leaseMs: 150,
        pollMs: 30,
        concurrency: 3,
      });
      const c = await Flotilla.open({ store: tempStore(), worker: false });
      try {
        await assert.rejects(c.worker(5 as never), { code: "FLOTILLA_INVALID_ARGUMENT" });
        await assert.rejects(c.worker({ leaseMs: -1 }), { code: "FLOTILLA_INVALID_ARGUMENT" });
        assert.equal((await c.worker()).options.leaseMs, 30_000, "the default");
      } finally {
        await c.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

const pick = (o: { leaseMs: number; pollMs: number; concurrency: number }) => ({
  leaseMs: o.leaseMs,
  pollMs: o.pollMs,
  concurrency: o.concurrency,
});

describe("the worker's heartbeat", () => {
  it("shares retry budgets and breaker states even when announcing its agents fails, and says which failed", async () => {
    let refuseAnnounce = false;
    const inner = await openStore(tempStore());
    const refusing = new Proxy(inner, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== "announceWorker" || typeof value !== "function") return value;
        return (...args: unknown[]) =>
          refuseAnnounce
            ? Promise.reject(new Error("presence table unavailable"))
            : (value as (...a: unknown[]) => Promise<void>).apply(target, args);
      },
    });
    const { store, calls } = counted(refusing);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    const f = await Flotilla.open({ store, worker: { pollMs: 60_000, leaseMs: 150 } });
    try {
      await f.worker();
      refuseAnnounce = true;
      calls.clear();
      // Heartbeats every 50 ms.
      for (let i = 0; i < 100 && (calls.get("publishDependencyStates") ?? 0) < 3; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok((calls.get("announceWorker") ?? 0) >= 3, "the heartbeat stopped announcing");
      assert.ok(
        (calls.get("publishDependencyStates") ?? 0) >= 3,
        "a failed announcement skipped sharing the resilience state",
      );
      assert.ok(warnings.some((m) => m.includes("announcing this worker's agents failed")));
      assert.ok(!warnings.some((m) => m.includes("renewing leases failed")), warnings.join("; "));
    } finally {
      process.off("warning", onWarning);
      await f.close();
      await inner.close();
    }
  });
});
