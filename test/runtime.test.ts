import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { z } from "zod";
import { Flotilla, isFlotillaError, ToolRejectedError } from "../src/index.js";
import { readMessage } from "../src/journal/payloads.js";
import { FakeProvider } from "./helpers/fakeProvider.js";

const dirs: string[] = [];
function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-rt-"));
  dirs.push(dir);
  return join(dir, "flotilla.db");
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function open(store = tempStore(), provider = new FakeProvider()) {
  return Flotilla.open({
    store,
    providers: { default: provider },
    worker: { pollMs: 20, leaseMs: 2000 },
    stopGraceMs: 500,
  });
}

describe("durable runs", () => {
  it("runs an agent, journals every step and returns its result", async () => {
    const provider = new FakeProvider();
    const f = await open(tempStore(), provider);
    const sent: string[] = [];
    const email = f.tool("email.send", {
      effect: "idempotent",
      schema: z.object({ to: z.string() }),
      run: async (a, { idempotencyKey }) => {
        sent.push(`${a.to}/${idempotencyKey}`);
        return { id: sent.length };
      },
    });
    const agent = f.agent("greeter", async (ctx, input: { to: string }) => {
      const answer = await ctx.llm({ model: "m", messages: [{ role: "user", content: "hi" }] });
      const t = await ctx.now();
      const r = await ctx.random();
      const receipt = await ctx.call(email, { to: input.to });
      return { text: answer.message.content, t: typeof t, r: r < 1, receipt };
    });
    const run = await f.start(agent, { to: "ann@example.com" });
    const out = await run.result({ timeoutMs: 10_000 });
    assert.equal(out.t, "number");
    assert.equal(out.r, true);
    assert.deepEqual(out.receipt, { id: 1 });
    assert.equal(provider.calls, 1);
    assert.equal(sent.length, 1);
    assert.match(sent[0] ?? "", new RegExp(`^ann@example.com/${run.id}:3$`));
    const types = (await f.store.readJournal(run.id)).map((e) => e.type);
    assert.deepEqual(types, [
      "run.created",
      "run.resumed",
      "step.completed",
      "step.completed",
      "step.completed",
      "effect.intent",
      "effect.committed",
      "run.completed",
    ]);
    await f.close();
  });

  it("returns the same run when started twice with one idempotency key", async () => {
    const f = await open();
    const agent = f.agent("once", async (_ctx, n: number) => n * 2);
    const a = await f.start(agent, 21, { idempotencyKey: "order-1" });
    const b = await f.start(agent, 21, { idempotencyKey: "order-1" });
    assert.equal(a.id, b.id);
    assert.equal(await b.result({ timeoutMs: 5000 }), 42);
    await f.close();
  });

  it("resumes after the worker is lost without repeating completed steps", async () => {
    const store = tempStore();
    const provider1 = new FakeProvider();
    const first = await open(store, provider1);
    let calls = 0;
    const hang = new Promise<never>(() => undefined);
    const define = (f: Flotilla, blockAt: number | null) => {
      const tool = f.tool("count", {
        effect: "idempotent",
        run: async (_a: { i: number }) => {
          calls++;
          return calls;
        },
      });
      const gate = f.tool("gate", {
        effect: "read",
        run: () => (blockAt === null ? Promise.resolve(1) : hang),
      });
      return f.agent("resumable", async (ctx) => {
        const a = await ctx.llm({ model: "m", messages: [{ role: "user", content: "q" }] });
        await ctx.call(tool, { i: 1 });
        await ctx.call(gate, {});
        const b = await ctx.llm({ model: "m", messages: [{ role: "user", content: "q2" }] });
        return [a.message.content, b.message.content];
      });
    };
    const agent1 = define(first, 1);
    const run = await first.start(agent1, null);
    while (
      (await first.store.readJournal(run.id)).filter((e) => e.type === "effect.committed")
        .length === 0
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const journalBefore = await first.store.readJournal(run.id);
    const firstStep = journalBefore.find((e) => e.type === "step.completed")?.data as {
      response: { messageRef: string };
    };
    const firstAnswer = (await readMessage(
      first.store,
      Buffer.from(firstStep.response.messageRef, "base64url"),
    )) as { content: string };
    await (await first.worker()).stop(0);
    await first.close();

    const provider2 = new FakeProvider();
    const second = await open(store, provider2);
    define(second, null);
    await second.worker();
    const [a, b] = await second.handle<string[]>(run.id).result({ timeoutMs: 10_000 });
    assert.equal(a, firstAnswer.content, "the first LLM answer must come from the journal");
    assert.ok(b?.startsWith("answer"));
    assert.equal(provider1.calls, 1);
    assert.equal(provider2.calls, 1, "only the step after the crash point calls the model");
    assert.equal(calls, 1, "the committed effect is not repeated");
    await second.close();
  });

  it("fails with a non-determinism error naming both steps when the code changes", async () => {
    const store = tempStore();
    const f1 = await open(store);
    // One declared version for both: a change that did not bump it (else the run waits for version 1).
    const wait = f1.agent(
      "changing",
      async (ctx) => {
        await ctx.now();
        await ctx.sleep(60_000);
      },
      { version: "1" },
    );
    const run = await f1.start(wait, null);
    while ((await f1.getRun(run.id)).status !== "waiting")
      await new Promise((r) => setTimeout(r, 10));
    await f1.close();
    const f2 = await open(store);
    f2.agent(
      "changing",
      async (ctx) => {
        await ctx.random();
      },
      { version: "1" },
    );
    await f2.store.commit({
      runId: run.id,
      fence: { unleasedIn: ["waiting"] },
      events: [],
      status: { status: "pending" },
    });
    await f2.worker();
    await assert.rejects(f2.handle(run.id).result({ timeoutMs: 10_000 }), (err) => {
      assert.ok(isFlotillaError(err, "FLOTILLA_RUN_FAILED"));
      assert.match(err.message, /at step 0: expected now 'now' \(journaled\), got random 'random'/);
      return true;
    });
    await f2.close();
  });

  it("sleeps durably, waits for signals and spawns children in parallel", async () => {
    const f = await open();
    const child = f.agent("child", async (ctx, n: number) => {
      await ctx.sleep(5);
      return n * 10;
    });
    const parent = f.agent("parent", async (ctx) => {
      const [a, b] = await ctx.all([ctx.spawn(child, 1), ctx.spawn(child, 2)]);
      await ctx.sleep(3_000);
      const approval = await ctx.waitFor<{ ok: boolean }>("approval");
      return { a, b, approval };
    });
    const run = await f.start(parent, null);
    while (
      (await f.getRun(run.id)).status !== "waiting" ||
      (await f.store.readJournal(run.id)).every((e) => e.type !== "timer.set")
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const waiting = await f.getRun(run.id);
    assert.ok(
      waiting.wakeAt !== null && waiting.wakeAt > Date.now() + 1000,
      "a long sleep releases the worker",
    );
    await f.store.commit({
      runId: run.id,
      fence: { unleasedIn: ["waiting"] },
      events: [],
      status: { status: "waiting", wakeAt: Date.now() },
    });
    while (
      (await f.store.readJournal(run.id)).filter((e) => e.type === "run.suspended").length < 3
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await run.signal("approval", { ok: true });
    assert.deepEqual(await run.result({ timeoutMs: 10_000 }), {
      a: 10,
      b: 20,
      approval: { ok: true },
    });
    const children = await f.store.listRuns({ parentId: run.id });
    assert.equal(children.length, 2);
    await f.close();
  });

  it("races branches, journals the winner and cancels the loser", async () => {
    const f = await open();
    let loserAborted = false;
    const slow = f.tool("slow", {
      effect: "read",
      run: (_a: null, { signal }) =>
        new Promise((_, reject) =>
          signal.addEventListener("abort", () => {
            loserAborted = true;
            reject(new Error("aborted"));
          }),
        ),
    });
    const agent = f.agent("racer", async (ctx) =>
      ctx.race([(c) => c.call(slow, null), async (c) => (await c.now()) > 0]),
    );
    assert.equal(await (await f.start(agent, null)).result({ timeoutMs: 5000 }), true);
    assert.equal(loserAborted, true);
    await f.close();
  });
});

describe("failed steps", () => {
  it("throw the same code on first execution and on replay, so agent code branches the same way", async () => {
    const f = await open();
    const flaky = f.tool("inventory.check", {
      effect: "read",
      run: async () => {
        throw new ToolRejectedError("out of stock", { retryable: false });
      },
    });
    const seen: string[] = [];
    const agent = f.agent("branching", async (ctx) => {
      const code = await ctx.call(flaky, {}).then(
        () => "ok",
        (e: { code: string }) => e.code,
      );
      seen.push(code);
      await ctx.sleep(2_500);
      return code;
    });
    const run = await f.start(agent, null);
    while ((await f.getRun(run.id)).status !== "waiting")
      await new Promise((r) => setTimeout(r, 20));
    await f.store.commit({
      runId: run.id,
      fence: { unleasedIn: ["waiting"] },
      events: [],
      status: { status: "waiting", wakeAt: Date.now() },
    });
    assert.equal(await run.result({ timeoutMs: 10_000 }), "FLOTILLA_TOOL_REJECTED");
    assert.ok(seen.length >= 2, "the agent was replayed at least once");
    assert.ok(
      seen.every((c) => c === "FLOTILLA_TOOL_REJECTED"),
      seen.join(", "),
    );
    await f.close();
  });
});

describe("effects", () => {
  it("dedupes a keyed effect across runs and never re-calls it", async () => {
    const f = await open();
    let refunds = 0;
    const refund = f.tool("payments.refund", {
      effect: "compensable",
      key: (a: { orderId: string }) => `refund:${a.orderId}`,
      run: async () => ({ refund: ++refunds }),
      compensate: async () => undefined,
    });
    const agent = f.agent("refunder", (ctx, orderId: string) => ctx.call(refund, { orderId }));
    const a = await (await f.start(agent, "o-1")).result({ timeoutMs: 5000 });
    const b = await (await f.start(agent, "o-1")).result({ timeoutMs: 5000 });
    assert.deepEqual(a, { refund: 1 });
    assert.deepEqual(b, { refund: 1 });
    assert.equal(refunds, 1);
    await f.close();
  });

  it("parks a run whose irreversible tool failed ambiguously, and resumes it on a decision", async () => {
    const f = await open();
    let calls = 0;
    const charge = f.tool("payments.charge", {
      effect: "irreversible",
      run: async () => {
        calls++;
        if (calls === 1) throw new Error("connection reset");
        return { charged: true };
      },
    });
    const rejected = f.tool("payments.reject", {
      effect: "irreversible",
      run: async () => {
        throw new ToolRejectedError("card declined", { retryable: false });
      },
    });
    const agent = f.agent("charger", async (ctx) => {
      const declined = await ctx.call(rejected, {}).catch((e: Error) => e.message);
      return { declined, charge: await ctx.call(charge, {}) };
    });
    const run = await f.start(agent, null);
    await assert.rejects(run.result({ timeoutMs: 5000 }), (err) =>
      isFlotillaError(err, "FLOTILLA_RUN_PARKED"),
    );
    assert.equal(calls, 1);
    await f.resolveEffect(run.id, "1", { outcome: "committed", result: { charged: "by hand" } });
    assert.deepEqual(await run.result({ timeoutMs: 5000 }), {
      declined: "card declined",
      charge: { charged: "by hand" },
    });
    assert.equal(calls, 1, "a parked effect is never re-executed without a decision");
    // A default key (<run>:<step>) is the journal's alone: the decision writes no key row either.
    assert.equal(await f.store.getEffect("payments.charge", `${run.id}:1`), undefined);
    await f.close();
  });

  it("cancels a run with a receipt: committed, in flight, never started", async () => {
    const f = await open();
    const done = f.tool("crm.note", { effect: "idempotent", run: async () => "noted" });
    let started: () => void = () => undefined;
    const inTool = new Promise<void>((r) => (started = r));
    const email = f.tool("email.send", {
      effect: "idempotent",
      run: (_a: null, { signal }) => {
        started();
        // Stopped before sending, and it says so: the effect certainly did not happen.
        // (A plain error here would leave the outcome unknown: the request may have left.)
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () =>
            reject(new ToolRejectedError("aborted before sending")),
          ),
        );
      },
    });
    let afterCancel = 0;
    const later = f.tool("payments.charge", {
      effect: "irreversible",
      run: async () => ++afterCancel,
    });
    const agent = f.agent("stoppable", async (ctx) => {
      await ctx.call(done, null);
      await ctx.call(email, null).catch(() => undefined);
      return ctx.call(later, null);
    });
    const run = await f.start(agent, null);
    await inTool;
    const receipt = await run.cancel("user pressed stop");
    assert.deepEqual(
      receipt.committed.map((e) => e.tool),
      ["crm.note"],
    );
    assert.deepEqual(
      receipt.inFlight.map((e) => [e.tool, e.settled]),
      [["email.send", "failed"]],
    );
    assert.deepEqual(
      receipt.notStarted.map((e) => e.tool),
      ["payments.charge"],
    );
    assert.equal(afterCancel, 0);
    assert.equal((await run.status()).status, "cancelled");
    await assert.rejects(run.result(), (err) => isFlotillaError(err, "FLOTILLA_CANCELLED"));
    await f.close();
  });
});

describe("bad input", () => {
  it("answers bad definitions and calls with typed errors", async () => {
    const f = await open();
    assert.throws(
      () => f.tool("bad name!", { effect: "read", run: async () => 1 }),
      (e) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT"),
    );
    assert.throws(
      () => f.tool("x", { effect: "sometimes" as never, run: async () => 1 }),
      (e) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT") && /effect/.test(e.message),
    );
    assert.throws(() => f.tool("y", { effect: "compensable", run: async () => 1 }), /compensate/);
    assert.throws(
      () => f.agent("a", "not a function" as never),
      (e) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT"),
    );
    await assert.rejects(f.cancel("no-such-run"), (e) => isFlotillaError(e, "FLOTILLA_NOT_FOUND"));
    await assert.rejects(Flotilla.open({ store: "mysql://x" }), (e) =>
      isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT"),
    );
    await assert.rejects(Flotilla.open({ inlineSleepMs: -1 }), /inlineSleepMs/);
    const agent = f.agent("bad-llm", (ctx) => ctx.llm({ model: "", messages: [] }));
    await assert.rejects(
      (await f.start(agent, null)).result({ timeoutMs: 5000 }),
      /model|messages/,
    );
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const rejected = (path: string) => (e: unknown) =>
      isFlotillaError(e, "FLOTILLA_PAYLOAD_REJECTED") && e.details.path === path;
    await assert.rejects(f.start(agent, circular), rejected(".self"));
    await assert.rejects(f.start(agent, { n: 1n }), rejected(".n"));
    await assert.rejects(f.start(agent, { page: ["ok", "a\u0000b"] }), rejected(".page[1]"));
    assert.equal((await f.store.listRuns()).length, 1, "refused inputs made no run");
    await f.close();
  });
});
