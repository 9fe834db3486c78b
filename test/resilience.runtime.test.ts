import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import { Flotilla, isFlotillaError } from "../src/index.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { startSimProvider, type SimProvider } from "../src/sim/index.js";
import type { SimReply } from "../src/sim/index.js";

/** The runtime's retry owner against the simulated provider, through the official OpenAI SDK. */
describe("ctx.llm resilience (sim provider, OpenAI SDK)", () => {
  let dir: string;
  let sim: SimProvider;
  let script: (model: string, seq: number) => SimReply | undefined = () => undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "flotilla-res-"));
    sim = await startSimProvider(
      { seed: 3, latency: { medianMs: 1, p99Ms: 5 } },
      { respond: (r) => script(r.model, r.seq) },
    );
  });
  after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(name: string) {
    return Flotilla.open({
      store: join(dir, `${name}.db`),
      providers: {
        default: createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "k", model: "m" }),
      },
      resilience: { defaults: { backoff: { baseMs: 5, maxMs: 20 } } },
      worker: { pollMs: 10 },
    });
  }
  const ask = { model: "m", messages: [{ role: "user" as const, content: "hi" }] };

  it("retries a transient 503 once, as the only retry owner, and journals the attempts", async () => {
    const f = await open("transient");
    sim.reset();
    script = (_m, seq) => (seq === 0 ? { error: { status: 503 } } : { text: "fine" });
    const agent = f.agent("a", async (ctx) => ctx.llm(ask));
    const r = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
    assert.equal(r.message.content, "fine");
    assert.equal(r.attempts, 2);
    assert.deepEqual(r.provenance, { degraded: false, source: "primary" });
    assert.equal(
      sim.stats().requests,
      2,
      "the SDK's own retries are off: the server saw exactly two requests",
    );
    await f.close();
  });

  it("does not retry a context-length error, and fails closed with a typed error when told to refuse", async () => {
    const f = await open("refuse");
    sim.reset();
    script = () => ({
      error: { status: 400, code: "context_length_exceeded", message: "too long" },
    });
    const agent = f.agent("a", async (ctx) => ctx.llm(ask, { onFailure: "refuse" }));
    await assert.rejects((await f.start(agent, null)).result({ timeoutMs: 10_000 }), (e) => {
      assert.ok(isFlotillaError(e, "FLOTILLA_RUN_FAILED"));
      assert.equal((e.details.error as { code: string }).code, "FLOTILLA_REFUSED");
      return true;
    });
    assert.equal(sim.stats().requests, 1);
    await f.close();
  });

  it("falls back to another model with provenance saying so", async () => {
    const f = await open("fallback");
    sim.reset();
    script = (model) => (model === "m" ? { error: { status: 500 } } : { text: `from ${model}` });
    const agent = f.agent("a", async (ctx) =>
      ctx.llm(ask, { onFailure: { fallback: [{ model: "backup" }] } }),
    );
    const r = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
    assert.equal(r.message.content, "from backup");
    assert.equal(r.provenance.degraded, true);
    assert.equal(r.provenance.source, "fallback:openai:backup");
    assert.match(r.provenance.reason ?? "", /failed 3 times/);
    await f.close();
  });

  it("answers from a stale copy within its max age when the provider is down", async () => {
    const f = await open("stale");
    sim.reset();
    script = () => ({ text: "fresh" });
    const agent = f.agent("a", async (ctx) =>
      ctx.llm(ask, { onFailure: { stale: { maxAgeMs: 60_000 } } }),
    );
    await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
    script = () => ({ error: { status: 503 } });
    const r = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
    assert.equal(r.message.content, "fresh");
    assert.equal(r.provenance.source, "stale-cache");
    assert.ok((r.provenance.stalenessMs ?? -1) >= 0);
    await f.close();
  });

  it("re-samples an answer that fails validation, counted apart from transient retries", async () => {
    const f = await open("samples");
    sim.reset();
    script = (_m, seq) => ({ text: seq < 2 ? "not json" : JSON.stringify({ priority: "high" }) });
    const agent = f.agent("a", async (ctx) =>
      ctx.llm(ask, { output: z.object({ priority: z.enum(["low", "high"]) }), samples: 3 }),
    );
    const r = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
    assert.deepEqual(r.parsed, { priority: "high" });
    assert.equal(r.samples, 3);
    assert.equal(r.attempts, 3);
    await f.close();
  });

  it("stops a run at its deadline and says so", async () => {
    const f = await open("deadline");
    const agent = f.agent("a", async (ctx) => {
      await ctx.sleep(1_500);
      return ctx.llm(ask);
    });
    await assert.rejects(
      (await f.start(agent, null, { deadlineMs: 300 })).result({ timeoutMs: 10_000 }),
      (e) => {
        assert.ok(isFlotillaError(e));
        assert.match(e.message, /deadline/);
        return true;
      },
    );
    await f.close();
  });
});
