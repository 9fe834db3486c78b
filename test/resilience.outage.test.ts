import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Flotilla, isFlotillaError, ToolRejectedError } from "../src/index.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { startSimProvider, type SimProvider } from "../src/sim/index.js";
import { tempStore } from "./helpers/tempStore.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A provider outage costs time, not work: runs whose calls are refused
 * because the provider is down wait for it (in memory, then suspended) and
 * finish once it is back; only their deadline, or an explicit failure
 * policy, ends the wait.
 */
describe("waiting out a provider outage (sim provider, OpenAI SDK)", () => {
  let sim: SimProvider;
  before(async () => {
    sim = await startSimProvider({ seed: 5, latency: { medianMs: 1, p99Ms: 5 } });
  });
  after(() => sim.close());

  /** Short breaker cooldown and inline window so a test outage of a second exercises both waits. */
  function open(options: { outageWaitMs?: number; concurrency?: number; store?: string } = {}) {
    return Flotilla.open({
      store: options.store ?? tempStore(),
      providers: {
        default: createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "k", model: "m" }),
      },
      resilience: {
        defaults: { backoff: { baseMs: 5, maxMs: 20 }, breaker: { cooldownMs: 300 } },
      },
      inlineWaitMs: 200,
      ...(options.outageWaitMs !== undefined ? { outageWaitMs: options.outageWaitMs } : {}),
      worker: { pollMs: 10, concurrency: options.concurrency ?? 8 },
    });
  }
  const ask = (i: number) => ({
    model: "m",
    messages: [{ role: "user" as const, content: `q${i}` }],
  });

  it("finishes every run started during an outage once the provider is back, suspending the long waits", async () => {
    sim.reset();
    const f = await open();
    try {
      const agent = f.agent(
        "ask",
        async (ctx, i: number) => (await ctx.llm(ask(i))).message.content,
      );
      sim.setOutage(true);
      const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => f.start(agent, i)));
      await pause(1_500);
      const during = sim.stats().requests;
      sim.setOutage(false);
      const answers = await Promise.allSettled(runs.map((r) => r.result({ timeoutMs: 30_000 })));
      assert.deepEqual(
        answers.filter((a) => a.status === "rejected").map((a) => String(a.reason)),
        [],
      );
      assert.ok(during < 20 * 3, `the outage was not hammered: ${during} requests for 20 calls`);
      const journals = await Promise.all(runs.map((r) => f.store.readJournal(r.id)));
      const suspended = journals.filter((j) => j.some((e) => e.type === "outage.waiting"));
      assert.ok(suspended.length > 0, "some runs released their slot and suspended");
      for (const j of suspended)
        assert.ok(
          j.some((e) => e.type === "run.suspended"),
          "an outage wait suspends the run",
        );
      assert.deepEqual(await f.store.listDeadLetters(), []);
    } finally {
      await f.close();
    }
  });

  it("fails a run whose deadline comes before the provider does, naming the provider", async () => {
    sim.reset();
    const f = await open();
    try {
      const agent = f.agent("late", async (ctx) => (await ctx.llm(ask(0))).message.content);
      sim.setOutage(true);
      const run = await f.start(agent, null, { deadlineMs: 1_200 });
      await assert.rejects(run.result({ timeoutMs: 30_000 }), (err) =>
        isFlotillaError(err, "FLOTILLA_DEAD_LETTERED"),
      );
      const [letter] = await f.store.listDeadLetters();
      assert.equal(letter?.error?.code, "FLOTILLA_DEPENDENCY_UNAVAILABLE", letter?.error?.message);
      assert.equal(letter?.error?.details?.dependency, "openai:m");
      assert.equal(letter?.class, "retries-exhausted");
    } finally {
      sim.setOutage(false);
      await f.close();
    }
  });

  it("ends the wait outageWaitMs after the call first met the outage, across suspensions", async () => {
    sim.reset();
    const f = await open({ outageWaitMs: 1_500 });
    try {
      const agent = f.agent("bounded", async (ctx) => (await ctx.llm(ask(0))).message.content);
      sim.setOutage(true);
      const run = await f.start(agent, null);
      await assert.rejects(run.result({ timeoutMs: 30_000 }), (err) =>
        isFlotillaError(err, "FLOTILLA_DEAD_LETTERED"),
      );
      const [letter] = await f.store.listDeadLetters();
      assert.equal(letter?.error?.code, "FLOTILLA_DEPENDENCY_UNAVAILABLE", letter?.error?.message);
      const types = (await f.store.readJournal(run.id)).map((e) => e.type);
      assert.equal(types.filter((t) => t === "outage.waiting").length, 1, types.join(" "));
      assert.ok(
        types.filter((t) => t === "run.resumed").length > 1,
        `the bound held over more than one execution: ${types.join(" ")}`,
      );
    } finally {
      sim.setOutage(false);
      await f.close();
    }
  });

  it("follows an explicit failure policy instead of waiting, and fails at once with outageWaitMs 0", async () => {
    sim.reset();
    const f = await open({ outageWaitMs: 0 });
    try {
      const refuse = f.agent("refuse", async (ctx) => ctx.llm(ask(0), { onFailure: "refuse" }));
      const plain = f.agent("plain", async (ctx) => ctx.llm(ask(1)));
      sim.setOutage(true);
      const [a, b] = await Promise.all([f.start(refuse, null), f.start(plain, null)]);
      await assert.rejects(a.result({ timeoutMs: 30_000 }), (err) =>
        /FLOTILLA_REFUSED/.test(JSON.stringify(err)),
      );
      await assert.rejects(b.result({ timeoutMs: 30_000 }), (err) =>
        /FLOTILLA_RETRIES_EXHAUSTED|FLOTILLA_BREAKER_OPEN|FLOTILLA_RETRY_BUDGET/.test(
          JSON.stringify(err),
        ),
      );
    } finally {
      sim.setOutage(false);
      await f.close();
    }
  });

  it("redriven during an outage, a run dead-lettered for it waits for the provider and completes", async () => {
    sim.reset();
    const path = tempStore();
    const define = (f: Flotilla) =>
      f.agent("dl", async (ctx) => {
        await ctx.llm(ask(0));
        return "done";
      });
    sim.setOutage(true);
    try {
      const before = await open({ outageWaitMs: 0, store: path });
      const run = await before.start(define(before), null);
      await assert.rejects(run.result({ timeoutMs: 30_000 }));
      await before.close();
      const f = await open({ store: path });
      try {
        define(f);
        const [letter] = await f.listDeadLetters({ class: "retries-exhausted" });
        assert.ok(letter);
        await f.redrive(letter.id);
        await f.worker();
        await pause(800);
        const journal = (await f.store.readJournal(run.id)).map((e) => e.type);
        assert.equal((await f.store.getRun(run.id))?.status, "waiting", journal.join(" "));
        sim.setOutage(false);
        assert.equal(await f.handle(run.id).result({ timeoutMs: 30_000 }), "done");
      } finally {
        await f.close();
      }
    } finally {
      sim.setOutage(false);
    }
  });

  it("waits out the outage of a read tool's service, and completes once it answers again", async () => {
    const f = await open();
    try {
      let down = true;
      let calls = 0;
      const lookup = f.tool("inventory.lookup", {
        effect: "read",
        run: (a: { sku: string }) => {
          calls++;
          if (down) return Promise.reject(Object.assign(new Error("unavailable"), { status: 503 }));
          return Promise.resolve({ sku: a.sku, stock: 3 });
        },
      });
      const agent = f.agent("stock", async (ctx, sku: string) => ctx.call(lookup, { sku }));
      const runs = await Promise.all(["a", "b", "c"].map((sku) => f.start(agent, sku)));
      await pause(1_200);
      const during = calls;
      down = false;
      const stock = await Promise.all(runs.map((r) => r.result({ timeoutMs: 30_000 })));
      assert.deepEqual(
        stock.map((s) => s.stock),
        [3, 3, 3],
      );
      assert.ok(during < 3 * 6, `the service was not hammered while down: ${during} calls`);
    } finally {
      await f.close();
    }
  });

  it("an effect refused by its service's outage, certainly not done, waits within its deadline and is done once", async () => {
    const f = await open();
    try {
      let down = true;
      let charged = 0;
      const charge = f.tool("card.charge", {
        effect: "compensable",
        compensate: () => Promise.resolve(),
        run: (a: { cents: number }) => {
          if (down) return Promise.reject(new ToolRejectedError("the gateway is down"));
          charged++;
          return Promise.resolve({ charged: a.cents });
        },
      });
      const agent = f.agent("pay", async (ctx, cents: number) => ctx.call(charge, { cents }));
      const run = await f.start(agent, 500);
      await pause(1_200);
      down = false;
      assert.deepEqual(await run.result({ timeoutMs: 30_000 }), { charged: 500 });
      assert.equal(charged, 1);
      const types = (await f.store.readJournal(run.id)).map((e) => e.type);
      assert.equal(types.filter((t) => t === "effect.intent").length, 1);
      assert.ok(!types.includes("effect.failed"), types.join(" "));
    } finally {
      await f.close();
    }
  });

  it("an irreversible call that may have acted is not waited out and tried again: it is parked", async () => {
    const f = await open();
    try {
      let sent = 0;
      const email = f.tool("mail.send", {
        effect: "irreversible",
        run: () => {
          sent++;
          return Promise.reject(Object.assign(new Error("gateway timeout"), { status: 504 }));
        },
      });
      const agent = f.agent("mail", async (ctx) => ctx.call(email, { to: "a@example.com" }));
      const run = await f.start(agent, null);
      await assert.rejects(run.result({ timeoutMs: 30_000 }), (err) =>
        isFlotillaError(err, "FLOTILLA_RUN_PARKED"),
      );
      assert.equal(sent, 1);
    } finally {
      await f.close();
    }
  });

  it("refuses an outage wait that is not a duration", async () => {
    await assert.rejects(
      Flotilla.open({ store: tempStore(), outageWaitMs: -1, worker: false }),
      (err) =>
        isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") && /outageWaitMs/.test(err.message),
    );
  });
});
