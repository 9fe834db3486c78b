import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { isFlotillaError, type DeadLetter, type DeadLetterClass } from "../src/index.js";
import type { Flotilla } from "../src/runtime/Flotilla.js";
import { openFlotilla, ScriptedProvider, settle } from "./helpers/deadletter.js";

const ask = (content: string) => ({ model: "m", messages: [{ role: "user" as const, content }] });

async function onlyEntry(f: Flotilla, runId: string, cls: DeadLetterClass): Promise<DeadLetter> {
  const entries = await f.listDeadLetters({ runId });
  assert.equal(entries.length, 1, `one dead letter for ${runId}`);
  const [entry] = entries as [DeadLetter];
  assert.equal(entry.class, cls);
  assert.equal(entry.status, "open");
  return entry;
}

describe("dead letters: every class is captured at the end of the run, with its context", () => {
  for (const [kind, cls] of [
    ["server", "retries-exhausted"],
    ["bad_request", "non-retryable"],
    ["context_length", "context-exhausted"],
    ["content_policy", "policy-violation"],
  ] as const) {
    it(`${cls}: a provider ${kind} error`, async () => {
      const provider = new ScriptedProvider((_r, n) => (n === 1 ? "first answer" : { fail: kind }));
      const f = await openFlotilla(provider);
      const agent = f.agent("a", async (ctx, input: { ticket: number }) => {
        await ctx.llm(ask("plan"));
        return ctx.llm(ask(`answer ticket ${input.ticket}`));
      });
      const run = await f.start(agent, { ticket: 7 });
      const err = await settle(f, run.id);
      assert.ok(isFlotillaError(err, "FLOTILLA_DEAD_LETTERED"));
      assert.equal(err.details.class, cls);
      assert.equal((await f.getRun(run.id)).status, "dead-lettered");
      const entry = await onlyEntry(f, run.id, cls);
      assert.deepEqual(entry.context.input, { ticket: 7 });
      assert.equal(entry.context.checkpoint?.step, "0", "the first LLM step is the last good one");
      assert.deepEqual(
        entry.context.partialResults.map((p) => [p.step, p.kind]),
        [["0", "llm"]],
      );
      assert.equal(entry.context.cost.llmCalls, 1);
      assert.equal(entry.context.cost.usd, 0.001);
      assert.equal(entry.context.cost.inputTokens, 10);
      const failed = entry.context.attempts.find((a) => a.step === "1");
      assert.ok(failed, "the failing step is among the attempts");
      assert.ok(
        failed.chain.some((e) => /scripted/.test(e.message)),
        "its error chain reaches the provider's error",
      );
      await f.close();
    });
  }

  it("validation-failed: no sample passes the output schema", async () => {
    const f = await openFlotilla(new ScriptedProvider(() => "not json"));
    const agent = f.agent("a", async (ctx) =>
      ctx.llm(ask("json please"), { output: z.object({ ok: z.boolean() }), samples: 2 }),
    );
    const run = await f.start(agent, null);
    await settle(f, run.id);
    const entry = await onlyEntry(f, run.id, "validation-failed");
    assert.match(entry.error?.message ?? "", /no valid answer in 2 sample/);
    await f.close();
  });

  it("budget-exhausted: the call is refused before it is sent", async () => {
    const provider = new ScriptedProvider();
    const f = await openFlotilla(provider);
    const agent = f.agent("a", async (ctx) => ctx.llm({ ...ask("hi"), model: "gpt-4o-mini" }));
    const run = await f.start(agent, null, { budget: { usd: 0.000001 } });
    await settle(f, run.id);
    const entry = await onlyEntry(f, run.id, "budget-exhausted");
    assert.equal(provider.calls, 0, "nothing was sent, so nothing was spent");
    assert.equal(entry.error?.code, "FLOTILLA_BUDGET_EXHAUSTED");
    await f.close();
  });

  it("budget-exhausted: a run stops at its step budget", async () => {
    const f = await openFlotilla(new ScriptedProvider());
    const agent = f.agent("a", async (ctx) => {
      for (let i = 0; ; i++) await ctx.llm(ask(`step ${i}`));
    });
    const run = await f.start(agent, null, { budget: { steps: 4 } });
    await settle(f, run.id);
    const entry = await onlyEntry(f, run.id, "budget-exhausted");
    assert.equal(entry.context.steps, 4);
    await f.close();
  });

  it("loop-detected: the same tool call with the same arguments and result, again and again", async () => {
    const f = await openFlotilla(new ScriptedProvider());
    let lookups = 0;
    const lookup = f.tool("crm.lookup", {
      effect: "read",
      run: async (_a: { id: number }) => {
        lookups++;
        return { name: "Ada" };
      },
    });
    const agent = f.agent("a", async (ctx) => {
      for (;;) await ctx.call(lookup, { id: 1 });
    });
    const run = await f.start(agent, null);
    await settle(f, run.id);
    const entry = await onlyEntry(f, run.id, "loop-detected");
    assert.equal(lookups, 5, "the fifth identical call with the same result stops the run");
    assert.equal(entry.error?.details?.kind, "repeated-call");
    await f.close();
  });

  it("no-progress: steps that produce nothing new, with the agent's own threshold", async () => {
    const f = await openFlotilla(new ScriptedProvider(() => "same answer"));
    const agent = f.agent(
      "a",
      async (ctx) => {
        for (let i = 0; ; i++) await ctx.llm(ask(`variation ${i}`));
      },
      { loops: { noProgressSteps: 6 } },
    );
    const run = await f.start(agent, null);
    await settle(f, run.id);
    const entry = await onlyEntry(f, run.id, "no-progress");
    assert.equal(entry.context.cost.llmCalls, 7, "one new answer, then six that repeat it");
    await f.close();
  });

  it("effect-outcome-unknown: the run stays parked, is listed, and resolving closes the entry", async () => {
    const f = await openFlotilla(new ScriptedProvider());
    const charge = f.tool("pay.charge", {
      effect: "irreversible",
      run: async () => {
        throw new Error("connection reset");
      },
    });
    const agent = f.agent("a", async (ctx) => ctx.call(charge, {}));
    const run = await f.start(agent, null);
    const err = await settle(f, run.id);
    assert.ok(isFlotillaError(err, "FLOTILLA_RUN_PARKED"));
    const entry = await onlyEntry(f, run.id, "effect-outcome-unknown");
    assert.deepEqual(
      entry.context.effects.map((e) => [e.tool, e.state]),
      [["pay.charge", "unknown"]],
    );
    await assert.rejects(f.redrive(entry.id), /flotilla resolve/);
    await f.resolveEffect(run.id, "0", { outcome: "committed", result: { ok: true } });
    assert.deepEqual(await run.result({ timeoutMs: 10_000 }), { ok: true });
    assert.equal((await f.getDeadLetter(entry.id)).status, "resolved");
    await f.close();
  });

  it("cancelled-with-unsettled-effects: a cancel lands while an irreversible tool runs", async () => {
    const f = await openFlotilla(new ScriptedProvider());
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const send = f.tool("email.send", {
      effect: "irreversible",
      run: (_a: object, { signal }) =>
        new Promise((_, reject) => {
          started();
          signal.addEventListener("abort", () => reject(new Error("socket closed")));
        }),
    });
    const agent = f.agent("a", async (ctx) => ctx.call(send, {}));
    const run = await f.start(agent, null);
    await running;
    const receipt = await run.cancel("operator stop");
    assert.equal(receipt.inFlight[0]?.settled, "unknown");
    const entry = await onlyEntry(f, run.id, "cancelled-with-unsettled-effects");
    assert.equal(entry.context.effects[0]?.state, "unknown");
    assert.equal((await f.getRun(run.id)).status, "cancelled");
    await f.close();
  });

  it("deadline-exceeded: the run's deadline passes", async () => {
    const f = await openFlotilla(new ScriptedProvider());
    const agent = f.agent("a", async (ctx) => {
      await ctx.llm(ask("before"));
      await ctx.sleep(1_000);
    });
    const run = await f.start(agent, null, { deadlineMs: 150 });
    await settle(f, run.id);
    const entry = await onlyEntry(f, run.id, "deadline-exceeded");
    assert.equal(entry.context.partialResults.length, 1);
    await f.close();
  });

  it("a parent gets a typed error for a dead-lettered child and can fall back", async () => {
    const provider = new ScriptedProvider((r) =>
      r.messages[0]?.content === "child" ? { fail: "content_policy" } : "fallback answer",
    );
    const f = await openFlotilla(provider);
    const child = f.agent("child", async (ctx) => ctx.llm(ask("child")));
    const parent = f.agent("parent", async (ctx) => {
      try {
        return await ctx.spawn(child, null);
      } catch (err) {
        if (!isFlotillaError(err, "FLOTILLA_DEAD_LETTERED")) throw err;
        const fallback = await ctx.llm(ask("parent"));
        return { fellBackBecause: err.details.class, text: fallback.message.content };
      }
    });
    const run = await f.start(parent, null);
    assert.deepEqual(await run.result({ timeoutMs: 10_000 }), {
      fellBackBecause: "policy-violation",
      text: "fallback answer",
    });
    const [childRun] = await f.store.listRuns({ parentId: run.id });
    assert.equal(childRun?.status, "dead-lettered");
    await f.close();
  });

  it("a plain bug in agent code is a failure, not a dead letter", async () => {
    const f = await openFlotilla(new ScriptedProvider());
    const agent = f.agent("a", async () => {
      throw new TypeError("undefined is not a function");
    });
    const run = await f.start(agent, null);
    await settle(f, run.id);
    assert.equal((await f.getRun(run.id)).status, "failed");
    assert.deepEqual(await f.listDeadLetters({ runId: run.id }), []);
    await f.close();
  });
});
