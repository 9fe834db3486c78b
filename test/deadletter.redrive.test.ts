import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { isFlotillaError, verifySignature, type DeadLetter } from "../src/index.js";
import { startSimTools, type SimTools } from "../src/sim/index.js";
import { openFlotilla, ScriptedProvider, settle } from "./helpers/deadletter.js";

const ask = (content: string, model = "m") => ({
  model,
  messages: [{ role: "user" as const, content }],
});

async function entryOf(
  f: Awaited<ReturnType<typeof openFlotilla>>,
  runId: string,
): Promise<DeadLetter> {
  const [entry] = await f.listDeadLetters({ runId, status: "open" });
  assert.ok(entry, `an open dead letter for ${runId}`);
  return entry;
}

describe("redrive: resume from the last checkpoint without repeating effects", () => {
  let tools: SimTools;
  before(async () => {
    tools = await startSimTools({ seed: 1 });
  });
  after(() => tools.close());

  it("re-runs the failed step and nothing before it (effects counted on the tool service)", async () => {
    tools.reset();
    let healthy = false;
    const provider = new ScriptedProvider(() => (healthy ? "summary" : { fail: "server" }));
    const f = await openFlotilla(provider);
    const send = f.tool("email.send", {
      effect: "irreversible",
      run: async (a: { to: string }) => {
        const res = await fetch(`${tools.url}/email/send`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ to: a.to, subject: "your refund" }),
        });
        return (await res.json()) as { emailId: string };
      },
    });
    const agent = f.agent("a", async (ctx, input: { to: string }) => {
      const sent = await ctx.call(send, input);
      const summary = await ctx.llm(ask("summarise"));
      return { sent, summary: summary.message.content };
    });
    const run = await f.start(agent, { to: "ann@example.com" });
    await settle(f, run.id);
    const entry = await entryOf(f, run.id);
    assert.equal(entry.class, "retries-exhausted");
    assert.equal(entry.context.effects[0]?.state, "committed");
    assert.equal(tools.stats().performed, 1);

    healthy = true;
    await f.redrive(entry.id, { by: "ann", reason: "provider recovered" });
    const out = await run.result({ timeoutMs: 10_000 });
    assert.equal(out.summary, "summary");
    assert.equal(tools.stats().performed, 1, "the email was not sent again");
    assert.equal(tools.duplicates().length, 0);
    const redriven = (await f.store.readJournal(run.id)).find((e) => e.type === "run.redriven");
    assert.deepEqual(
      {
        by: (redriven?.data as { by: string }).by,
        reason: (redriven?.data as { reason: string }).reason,
      },
      { by: "ann", reason: "provider recovered" },
    );
    const closed = await f.getDeadLetter(entry.id);
    assert.equal(closed.status, "redriven");
    await assert.rejects(f.redrive(entry.id), /already redriven/);
    await f.close();
  });

  it("applies a patched model and input on replay, journaled with the redrive", async () => {
    const provider = new ScriptedProvider((r) =>
      r.model === "broken" ? { fail: "bad_request" } : `from ${r.model}`,
    );
    const f = await openFlotilla(provider);
    const agent = f.agent("a", async (ctx, input: { q: string }) => {
      const first = await ctx.llm(ask(`plan ${input.q}`, "good"));
      const second = await ctx.llm(ask(`answer ${input.q}`, "broken"));
      return [first.message.content, second.message.content, input.q];
    });
    const run = await f.start(agent, { q: "v1" });
    await settle(f, run.id);
    const entry = await entryOf(f, run.id);
    assert.equal(entry.class, "non-retryable");
    const callsBefore = provider.calls;
    await f.redrive(entry.id, { patch: { model: "good", input: { q: "v2" } } });
    assert.deepEqual(await run.result({ timeoutMs: 10_000 }), ["from good", "from good", "v2"]);
    assert.equal(provider.calls - callsBefore, 1, "only the failed call ran again");
    await f.close();
  });

  it("continues a budget-exhausted run with a larger budget", async () => {
    const f = await openFlotilla(new ScriptedProvider((_r, n) => `answer ${n}`, 0));
    const agent = f.agent("a", async (ctx) => {
      for (let i = 0; i < 6; i++) await ctx.llm(ask(`step ${i}`));
      return "done";
    });
    const run = await f.start(agent, null, { budget: { steps: 3 } });
    await settle(f, run.id);
    const entry = await entryOf(f, run.id);
    assert.equal(entry.class, "budget-exhausted");
    await assert.rejects(
      f.redrive(entry.id, { patch: { budget: { steps: -1 } } }),
      (e) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT") && /budget/.test(e.message),
    );
    await f.redrive(entry.id, { patch: { budget: { steps: 10 } } });
    assert.equal(await run.result({ timeoutMs: 10_000 }), "done");
    await f.close();
  });

  it("redrives a parent together with its dead-lettered child", async () => {
    let healthy = false;
    const f = await openFlotilla(
      new ScriptedProvider(() => (healthy ? "child ok" : { fail: "server" })),
    );
    const child = f.agent("child", async (ctx) => (await ctx.llm(ask("c"))).message.content);
    const parent = f.agent("parent", async (ctx) => ctx.spawn(child, null));
    const run = await f.start(parent, null);
    await settle(f, run.id);
    const entry = await entryOf(f, run.id);
    assert.equal(entry.class, "retries-exhausted", "the parent inherits its child's class");
    healthy = true;
    await f.redrive(entry.id);
    assert.equal(await run.result({ timeoutMs: 10_000 }), "child ok");
    await f.close();
  });

  it("discards with a reason, journaled; refuses without one", async () => {
    const f = await openFlotilla(new ScriptedProvider(() => ({ fail: "bad_request" })));
    const agent = f.agent("a", async (ctx) => ctx.llm(ask("x")));
    const run = await f.start(agent, null);
    await settle(f, run.id);
    const entry = await entryOf(f, run.id);
    await assert.rejects(f.discardDeadLetter(entry.id, " "), /reason/);
    const d = await f.discardDeadLetter(entry.id, "duplicate ticket", "bob");
    assert.equal(d.status, "discarded");
    const journaled = (await f.store.readJournal(run.id)).find(
      (e) => e.type === "dead-letter.discarded",
    );
    assert.deepEqual(
      [(journaled?.data as { by: string }).by, (journaled?.data as { reason: string }).reason],
      ["bob", "duplicate ticket"],
    );
    await f.close();
  });

  it("bulk-redrives a class at a bounded rate", async () => {
    let healthy = false;
    const f = await openFlotilla(new ScriptedProvider(() => (healthy ? "ok" : { fail: "server" })));
    const agent = f.agent(
      "a",
      async (ctx, n: number) => `${(await ctx.llm(ask(`n ${n}`))).message.content} ${n}`,
    );
    const runs = await Promise.all([1, 2, 3].map((n) => f.start(agent, n)));
    await Promise.all(runs.map((r) => settle(f, r.id)));
    healthy = true;
    const waits: number[] = [];
    const clock = { now: () => 0, sleep: (ms: number) => Promise.resolve(void waits.push(ms)) };
    const { redriveClass } = await import("../src/deadletter/redrive.js");
    const out = await redriveClass(f.store, "retries-exhausted", { perSecond: 4 }, clock);
    assert.equal(out.redriven.length, 3);
    assert.deepEqual(waits, [250, 250], "a pause of 1/rate between redrives");
    assert.deepEqual(await Promise.all(runs.map((r) => r.result({ timeoutMs: 10_000 }))), [
      "ok 1",
      "ok 2",
      "ok 3",
    ]);
    await f.close();
  });

  it("routes: redrives automatically with a change, and escalates with a signed payload", async () => {
    const received: { body: string; ts: number; sig: string }[] = [];
    const hook = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push({
          body,
          ts: Number(req.headers["x-flotilla-timestamp"]),
          sig: String(req.headers["x-flotilla-signature"]),
        });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const secret = "s3cret-s3cret-s3cret";
    const f = await openFlotilla(
      new ScriptedProvider((r) =>
        r.model === "small"
          ? { fail: "context_length" }
          : r.model === "policy"
            ? { fail: "content_policy" }
            : "big answer",
      ),
      {
        deadLetters: {
          routes: {
            "context-exhausted": { action: "redrive", patch: { model: "large" } },
            "policy-violation": {
              action: "escalate",
              webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/dlq`,
              secret,
            },
          },
        },
      },
    );
    const agent = f.agent(
      "a",
      async (ctx, model: string) => (await ctx.llm(ask("q", model))).message.content,
    );
    const rerouted = await f.start(agent, "small");
    // The caller may see the dead letter before the route redrives it; the run then completes.
    for (let i = 0; i < 200 && (await rerouted.status()).status !== "completed"; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(await rerouted.result({ timeoutMs: 10_000 }), "big answer");
    const [auto] = await f.listDeadLetters({ runId: rerouted.id });
    assert.equal((auto?.resolution as { by?: string } | null)?.by, "route");
    const escalated = await f.start(agent, "policy");
    await settle(f, escalated.id);
    for (let i = 0; i < 100 && received.length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    await f.close();
    hook.close();
    assert.equal(received.length, 1);
    const [got] = received as [{ body: string; ts: number; sig: string }];
    assert.ok(verifySignature(secret, got.ts, got.body, got.sig), "the signature verifies");
    assert.ok(!verifySignature("another-secret-value", got.ts, got.body, got.sig));
    assert.equal((JSON.parse(got.body) as { class: string }).class, "policy-violation");
  });
});
