import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultyStore } from "../bench/support/faultyStore.js";
import { isFlotillaError } from "../src/core/errors.js";
import { ToolRejectedError } from "../src/effects/Tool.js";
import type { Flotilla } from "../src/runtime/Flotilla.js";
import type { Commit } from "../src/store/types.js";
import { SqliteStore } from "../src/store/sqlite/SqliteStore.js";
import { openOn, runUnderFaults, SEED, Witness } from "./helpers/faultFleet.js";
import { tempStore } from "./helpers/tempStore.js";

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
