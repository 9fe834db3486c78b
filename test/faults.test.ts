import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { FaultyStore, type FaultOptions } from "../bench/support/faultyStore.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { isFlotillaError } from "../src/core/errors.js";
import { ToolRejectedError } from "../src/effects/Tool.js";
import { Flotilla } from "../src/runtime/Flotilla.js";
import type { Commit, RunRecord, Store } from "../src/store/types.js";
import { PostgresStore } from "../src/store/postgres/PostgresStore.js";
import { SqliteStore } from "../src/store/sqlite/SqliteStore.js";
import { tempStore } from "./helpers/deadletter.js";

const SEED = Number(process.env.FLOTILLA_SEED ?? Math.floor(Math.random() * 2 ** 31));
process.stderr.write(`# fault tests seed ${SEED} (replay with FLOTILLA_SEED=${SEED})\n`);

const TERMINAL = new Set(["completed", "failed", "parked", "dead-lettered", "cancelled"]);

function openOn(store: Store | string): Promise<Flotilla> {
  return Flotilla.open({
    store,
    worker: { pollMs: 20, leaseMs: 1500, concurrency: 8 },
    stopGraceMs: 300,
  });
}

async function settleAll(f: Flotilla, ids: string[], timeoutMs: number): Promise<RunRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const runs = await Promise.all(ids.map((id) => f.store.getRun(id)));
    if (runs.every((r) => r && TERMINAL.has(r.status)) || Date.now() > until)
      return runs.filter((r): r is RunRecord => r !== undefined);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The world a tool changes, seen from outside Flotilla: how many times each
 * logical unit was performed. `reconcile` asks it, as a real service would be asked.
 */
class Witness {
  readonly performed = new Map<string, number>();
  perform(unit: string): void {
    this.performed.set(unit, (this.performed.get(unit) ?? 0) + 1);
  }
  repeats(): string[] {
    return [...this.performed].filter(([, n]) => n > 1).map(([u, n]) => `${u}×${n}`);
  }
}

/**
 * An agent written the way LLM loops are: every failed call is caught and
 * tried again, up to three times. Under store faults a runtime that throws
 * infrastructure errors into steps makes it charge twice.
 */
function faultedFleet(f: Flotilla, witness: Witness, caught: string[], reconciles = true) {
  const charge = f.tool("payments.charge", {
    effect: "irreversible",
    key: (a: { unit: string }) => `charge:${a.unit}`,
    timeoutMs: 300,
    run: async (a) => {
      witness.perform(`charge:${a.unit}`);
      return { charged: a.unit };
    },
    ...(reconciles
      ? {
          reconcile: async (a: { unit: string }) =>
            witness.performed.has(`charge:${a.unit}`)
              ? { status: "done" as const, result: { charged: a.unit } }
              : { status: "not-done" as const },
        }
      : {}),
  });
  const note = f.tool("crm.note", {
    effect: "idempotent",
    run: async (a: { unit: string }) => `noted ${a.unit}`,
  });
  return f.agent("careful", async (ctx, id: string) => {
    const out: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      for (let tries = 0; ; tries++) {
        try {
          out.push(await ctx.call(charge, { unit: `${id}-${i}` }));
          out.push(await ctx.call(note, { unit: `${id}-${i}` }));
          out.push(await ctx.now());
          break;
        } catch (err) {
          caught.push((err as { code?: string }).code ?? String(err));
          if (tries >= 2) throw err;
        }
      }
    }
    return out.length;
  });
}

async function runUnderFaults(
  options: Omit<FaultOptions, "seed">,
  label: string,
  inner: Store = SqliteStore.open(tempStore()),
  reconciles = true,
): Promise<void> {
  const faulty = new FaultyStore(inner, { ...options, seed: SEED });
  const f = await openOn(faulty.store);
  const witness = new Witness();
  const caught: string[] = [];
  const agent = faultedFleet(f, witness, caught, reconciles);
  try {
    faulty.enabled = false;
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push((await f.start(agent, `r${i}`)).id);
    faulty.enabled = true;
    await new Promise((r) => setTimeout(r, 1500));
    faulty.enabled = false;
    const runs = await settleAll(f, ids, 60_000);
    const ctx = `${label}, seed ${SEED}, ${faulty.total} faults injected`;
    assert.ok(faulty.total > 0, `no fault was injected (${ctx})`);
    assert.deepEqual(
      runs.filter((r) => r.status !== "completed").map((r) => `${r.id} ${r.status}`),
      [],
      `every run completes despite store faults (${ctx})`,
    );
    assert.deepEqual(witness.repeats(), [], `no charge performed twice (${ctx})`);
    assert.equal(witness.performed.size, 12 * 4, `every charge performed (${ctx})`);
    assert.deepEqual(caught, [], `agent code saw no infrastructure error (${ctx})`);
  } finally {
    await f.close();
    await faulty.inner.close();
  }
}

describe("store faults", () => {
  it("a share of failing store calls of every kind never reaches agent code, never fails a run, never repeats an effect", async () => {
    await runUnderFaults({ rate: 0.08, mode: "error" }, "store errors");
  });

  it("commits that land but lose their reply are neither doubled nor taken for failures", async () => {
    await runUnderFaults({ rate: 0.1, mode: "ambiguous", calls: ["commit"] }, "ambiguous commits");
  });

  it("an intent whose write lost its reply is called once its run resumes, not parked (no reconcile needed)", async () => {
    await runUnderFaults(
      { rate: 0.1, mode: "ambiguous", calls: ["commit"] },
      "ambiguous commits, irreversible tool without reconcile",
      SqliteStore.open(tempStore()),
      false,
    );
  });
  it("a store fault in one branch never turns a sibling's call in flight into a failure", async () => {
    const faulty = new FaultyStore(SqliteStore.open(tempStore()), {
      seed: SEED,
      rate: 1,
      mode: "error",
      calls: ["commit"],
      limit: 1,
      // The commit of tool B's intent, while tool A's call is in flight.
      match: ([c]) =>
        (c as Commit).events.some(
          (e) => e.type === "effect.intent" && (e.data as { name?: string }).name === "b.write",
        ),
    });
    const f = await openOn(faulty.store);
    const witness = new Witness();
    const a = f.tool("a.write", {
      effect: "idempotent",
      key: () => "a:1",
      // Like fetch: the request has left, and an abort rejects at once with the signal's reason.
      run: (_: unknown, ctx) =>
        new Promise<string>((resolve, reject) => {
          witness.perform("a");
          const timer = setTimeout(() => resolve("a"), 200);
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(ctx.signal.reason as Error);
          });
        }),
    });
    const b = f.tool("b.write", {
      effect: "irreversible",
      key: () => "b:1",
      run: async () => (witness.perform("b"), "b"),
    });
    const agent = f.agent("fan-out", (ctx) =>
      ctx.all([
        ctx.call(a, {}),
        (async () => {
          await new Promise((r) => setTimeout(r, 50));
          return ctx.call(b, {});
        })(),
      ]),
    );
    try {
      const run = await f.start(agent, null);
      assert.deepEqual(await run.result({ timeoutMs: 15_000 }), ["a", "b"]);
      assert.equal(faulty.total, 1, "the fault was injected");
      const types = (await f.store.readJournal(run.id)).map((e) => `${e.step ?? ""}:${e.type}`);
      assert.ok(!types.some((t) => t.endsWith("effect.failed")), types.join(", "));
      assert.equal(witness.performed.get("b"), 1);
      assert.ok((witness.performed.get("a") ?? 0) >= 1);
    } finally {
      await f.close();
      await faulty.inner.close();
    }
  });
});

describe("effect keys", () => {
  it("are scoped by tool: two tools with the same user key both run", async () => {
    const f = await openOn(tempStore());
    const witness = new Witness();
    const charge = f.tool("payments.charge", {
      effect: "irreversible",
      key: (a: { order: string }) => `order:${a.order}`,
      run: async (a) => (witness.perform(`charge ${a.order}`), "charged"),
    });
    const ship = f.tool("shipping.create", {
      effect: "irreversible",
      key: (a: { order: string }) => `order:${a.order}`,
      run: async (a) => (witness.perform(`ship ${a.order}`), "shipped"),
    });
    const agent = f.agent("checkout", async (ctx, order: string) => [
      await ctx.call(charge, { order }),
      await ctx.call(ship, { order }),
    ]);
    assert.deepEqual(await (await f.start(agent, "o1")).result({ timeoutMs: 10_000 }), [
      "charged",
      "shipped",
    ]);
    assert.deepEqual([...witness.performed.keys()], ["charge o1", "ship o1"]);
    await f.close();
  });

  it("refuse a key reused with other arguments instead of returning the first result", async () => {
    const f = await openOn(tempStore());
    const refund = f.tool("payments.refund", {
      effect: "compensable",
      key: (a: { order: string; cents: number }) => `refund:${a.order}`,
      run: async (a) => ({ refunded: a.cents }),
      compensate: async () => undefined,
    });
    const agent = f.agent("refunder", (ctx, cents: number) =>
      ctx.call(refund, { order: "o1", cents }),
    );
    assert.deepEqual(await (await f.start(agent, 500)).result({ timeoutMs: 10_000 }), {
      refunded: 500,
    });
    assert.deepEqual(await (await f.start(agent, 500)).result({ timeoutMs: 10_000 }), {
      refunded: 500,
    });
    await assert.rejects((await f.start(agent, 900)).result({ timeoutMs: 10_000 }), (err) =>
      /FLOTILLA_EFFECT_KEY_CONFLICT|other arguments/.test(String((err as Error).message)),
    );
    await f.close();
  });

  it("whose holder definitely failed can be claimed again", async () => {
    const f = await openOn(tempStore());
    let calls = 0;
    const charge = f.tool("payments.charge", {
      effect: "irreversible",
      key: () => "charge:o1",
      run: async () => {
        if (++calls === 1) throw new ToolRejectedError("card declined", { retryable: false });
        return "charged";
      },
    });
    const agent = f.agent("charger", (ctx) => ctx.call(charge, {}));
    await assert.rejects((await f.start(agent, null)).result({ timeoutMs: 10_000 }));
    assert.equal(await (await f.start(agent, null)).result({ timeoutMs: 10_000 }), "charged");
    assert.equal(calls, 2);
    await f.close();
  });
});

describe("outcomes", () => {
  it("a response lost after the effect, with retries exhausted, is unknown and parks: never failed", async () => {
    const f = await openOn(tempStore());
    const witness = new Witness();
    const send = f.tool("email.send", {
      effect: "irreversible",
      key: () => "welcome:u1",
      run: async () => {
        witness.perform("welcome:u1");
        throw new TypeError("fetch failed");
      },
    });
    const agent = f.agent("mailer", (ctx) => ctx.call(send, {}));
    const run = await f.start(agent, null);
    await assert.rejects(run.result({ timeoutMs: 10_000 }), (e) =>
      isFlotillaError(e, "FLOTILLA_RUN_PARKED"),
    );
    const types = (await f.store.readJournal(run.id)).map((e) => e.type);
    assert.ok(types.includes("effect.unknown"), types.join(", "));
    assert.ok(!types.includes("effect.failed"), types.join(", "));
    assert.equal(witness.performed.get("welcome:u1"), 1);
    const [letter] = await f.listDeadLetters({ runId: run.id });
    assert.equal(letter?.class, "effect-outcome-unknown");
    await f.close();
  });

  it("a call that never answers cannot hold its run past the tool's deadline", async () => {
    const f = await openOn(tempStore());
    const witness = new Witness();
    const send = f.tool("fax.send", {
      effect: "irreversible",
      key: () => "fax:1",
      timeoutMs: 300,
      // Acts, then never answers, and ignores its signal.
      run: () => {
        witness.perform("fax:1");
        return new Promise<string>(() => undefined);
      },
      reconcile: async () =>
        witness.performed.has("fax:1")
          ? { status: "done", result: "sent" }
          : { status: "not-done" },
    });
    const agent = f.agent("faxer", (ctx) => ctx.call(send, {}));
    const run = await f.start(agent, null);
    assert.equal(await run.result({ timeoutMs: 10_000 }), "sent");
    const committed = (await f.store.readJournal(run.id)).find(
      (e) => e.type === "effect.committed",
    );
    assert.equal((committed?.data as { reconciled?: boolean }).reconciled, true);
    assert.equal(witness.performed.get("fax:1"), 1);
    await f.close();
  });

  it("an agent returning what JSON cannot hold fails with a typed error instead of hanging", async () => {
    const f = await openOn(tempStore());
    const big = f.agent("bigint", async () => ({ total: 10n }));
    const cyclic = f.agent("cyclic", async () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    });
    const nul = f.tool("web.fetch", { effect: "read", run: async () => "page\u0000body" });
    const reader = f.agent("reader", (ctx) => ctx.call(nul, {}));
    for (const [agent, path] of [
      [big, ".total"],
      [cyclic, ".self"],
    ] as const) {
      await assert.rejects((await f.start(agent, null)).result({ timeoutMs: 10_000 }), (e) =>
        String((e as Error).message).includes(path),
      );
    }
    await assert.rejects((await f.start(reader, null)).result({ timeoutMs: 10_000 }), (e) =>
      /U\+0000/.test(String((e as Error).message)),
    );
    await f.close();
  });
});

describe("failed runs", () => {
  it("retry resumes from the journal: done effects are not repeated, the failed step runs again", async () => {
    const f = await openOn(tempStore());
    const witness = new Witness();
    let broken = true;
    const charge = f.tool("payments.charge", {
      effect: "irreversible",
      run: async () => (witness.perform("charge"), "charged"),
    });
    const agent = f.agent("buggy", async (ctx) => {
      const charged = await ctx.call(charge, {});
      if (broken) throw new Error("bug after the charge");
      return charged;
    });
    const run = await f.start(agent, null, { idempotencyKey: "order-1" });
    await assert.rejects(run.result({ timeoutMs: 10_000 }), /bug after the charge/);
    await assert.rejects(f.start(agent, null, { idempotencyKey: "order-1" }), (e) =>
      isFlotillaError(e, "FLOTILLA_RUN_KEY_FAILED"),
    );
    await assert.rejects(f.retry("no-such-run"), (e) => isFlotillaError(e, "FLOTILLA_NOT_FOUND"));
    broken = false;
    await run.retry({ by: "alice", reason: "fixed in deploy 42" });
    assert.equal(await run.result({ timeoutMs: 10_000 }), "charged");
    assert.equal(witness.performed.get("charge"), 1, "the charge was not repeated");
    const retried = (await f.store.readJournal(run.id)).find((e) => e.type === "run.retried");
    assert.deepEqual(
      {
        by: (retried?.data as { by: string }).by,
        reason: (retried?.data as { reason: string }).reason,
      },
      { by: "alice", reason: "fixed in deploy 42" },
    );
    await assert.rejects(run.retry(), (e) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT"));
    await f.close();
  });
});

describe("leases", () => {
  it("a stopping worker releases its leases, so another takes over at once", async () => {
    const path = tempStore();
    const a = await openOn(path);
    let started = 0;
    const slow = a.tool("slow.read", {
      effect: "read",
      run: async (_: unknown, ctx) => {
        started++;
        await new Promise((r) => setTimeout(r, 60_000));
        ctx.signal.throwIfAborted();
      },
    });
    const agent = a.agent("slow", (ctx) => ctx.call(slow, {}));
    const run = await a.start(agent, null);
    while (started === 0) await new Promise((r) => setTimeout(r, 20));
    await a.close();
    const status = (await SqliteStore.open(path).getRun(run.id))?.status;
    assert.equal(status, "pending", "released, not left running until the lease expires");
  });

  it("a worker that cannot renew its leases stops its tools before another worker may take over", async () => {
    const faulty = new FaultyStore(SqliteStore.open(tempStore()), {
      seed: SEED,
      rate: 1,
      mode: "error",
      calls: ["renewLeases"],
    });
    const f = await openOn(faulty.store);
    const aborted: number[] = [];
    let startedAt = 0;
    const wait = f.tool("slow.read", {
      effect: "read",
      run: (_: unknown, ctx) =>
        new Promise((resolve) => {
          startedAt = Date.now();
          ctx.signal.addEventListener("abort", () => {
            aborted.push(Date.now() - startedAt);
            resolve("aborted");
          });
          setTimeout(() => resolve("finished"), 5_000).unref();
        }),
    });
    const agent = f.agent("waiter", (ctx) => ctx.call(wait, {}));
    try {
      await f.start(agent, null);
      const until = Date.now() + 5_000;
      while (aborted.length === 0 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(aborted.length, 1, "the tool call was aborted by self-fencing");
      assert.ok(
        (aborted[0] ?? Infinity) < 1500,
        `aborted ${aborted[0]} ms into the call, before the 1500 ms lease ran out`,
      );
    } finally {
      await f.close();
      await faulty.inner.close();
    }
  });

  it("a taken-over effect is reconciled only after its first attempt can no longer land", async () => {
    const path = tempStore();
    const witness = new Witness();
    const define = (f: Flotilla) => {
      const send = f.tool("email.send", {
        effect: "irreversible",
        key: () => "invoice:42",
        timeoutMs: 1_000,
        // The request has left: it lands 400 ms later whatever happens to the caller.
        run: () =>
          new Promise((resolve) =>
            setTimeout(() => resolve((witness.perform("invoice:42"), "sent")), 400),
          ),
        reconcile: async () =>
          witness.performed.has("invoice:42")
            ? { status: "done", result: "sent" }
            : { status: "not-done" },
      });
      return f.agent("invoicer", (ctx) => ctx.call(send, {}));
    };
    const first = await openOn(path);
    const run = await first.start(define(first), null);
    while ((await first.store.readJournal(run.id)).every((e) => e.type !== "effect.intent"))
      await new Promise((r) => setTimeout(r, 10));
    // The first worker goes away with the request in flight (no grace), releasing its lease.
    await (await first.worker()).stop(0);
    const second = await openOn(path);
    define(second);
    await second.worker();
    try {
      assert.equal(await second.handle(run.id).result({ timeoutMs: 10_000 }), "sent");
      assert.equal(witness.performed.get("invoice:42"), 1, "sent once, not re-sent after not-done");
    } finally {
      await second.close();
      await first.close();
    }
  });

  it("deadlines longer than 2^31 ms do not fire at once", async () => {
    const f = await openOn(tempStore());
    const agent = f.agent("patient", async (ctx) => {
      await ctx.sleep(10);
      return "done";
    });
    const run = await f.start(agent, null, { deadlineMs: 30 * 24 * 3600 * 1000 });
    assert.equal(await run.result({ timeoutMs: 10_000 }), "done");
    await f.close();
  });
});

const pgSkip = await postgresSkipReason();

describe("PostgreSQL faults", pgSkip ? { skip: pgSkip } : {}, () => {
  it("store errors on PostgreSQL: runs complete, nothing repeats, agents see nothing", async () => {
    const db = await freshDatabase();
    try {
      await runUnderFaults(
        { rate: 0.08, mode: "error" },
        "postgres store errors",
        await PostgresStore.open(db.url),
      );
    } finally {
      await db.drop();
    }
  });

  it("a payload PostgreSQL refuses fails its own commit, not the others of its batch", async () => {
    const db = await freshDatabase();
    const store = await PostgresStore.open(db.url, { listen: false });
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `batch-${i}`);
      for (const id of ids)
        await store.createRun({
          id,
          agent: "a",
          input: null,
          idempotencyKey: null,
          tenant: null,
          deadline: null,
          created: {},
        });
      // Straight to the store, past the runtime's own checks: what jsonb itself refuses.
      const outcomes = await Promise.allSettled(
        ids.map((id, i) =>
          store.commit({
            runId: id,
            fence: { unleasedIn: ["pending"] },
            events: [{ type: "note", data: { text: i === 3 ? "a\u0000b" : "fine" } }],
          }),
        ),
      );
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
      );
      const refused = outcomes[3] as PromiseRejectedResult;
      assert.ok(
        isFlotillaError(refused.reason, "FLOTILLA_PAYLOAD_REJECTED"),
        String(refused.reason),
      );
      for (const [i, id] of ids.entries())
        assert.equal(
          (await store.readJournal(id)).some((e) => e.type === "note"),
          i !== 3,
          `run ${id}'s note`,
        );
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it("backends terminated mid-run do not end the worker; every run completes", async () => {
    const db = await freshDatabase();
    const f = await openOn(db.url);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const witness = new Witness();
      const agent = faultedFleet(f, witness, []);
      const ids = [];
      for (let i = 0; i < 8; i++) ids.push((await f.start(agent, `t${i}`)).id);
      let terminated = 0;
      for (let i = 0; i < 10; i++) {
        const { rowCount } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        terminated += rowCount ?? 0;
        await new Promise((r) => setTimeout(r, 100));
      }
      const runs = await settleAll(f, ids, 60_000);
      assert.ok(terminated > 0, "backends were terminated");
      assert.deepEqual(
        runs.filter((r) => r.status !== "completed").map((r) => `${r.id} ${r.status}`),
        [],
        `seed ${SEED}, ${terminated} backends terminated`,
      );
      assert.deepEqual(witness.repeats(), []);
    } finally {
      await admin.end();
      await f.close();
      await db.drop();
    }
  });
});
