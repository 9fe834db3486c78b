import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla, openFleet, ProviderError, ToolRejectedError } from "../src/index.js";
import type { LlmProvider, LlmRequest, LlmResponse } from "../src/providers/types.js";
import { tempStore } from "./helpers/tempStore.js";

/** Answers with a price; the calls whose number is in `limited` are refused with a 429 first. */
class PricedProvider implements LlmProvider {
  readonly name = "priced";
  calls = 0;
  constructor(private readonly limited: ReadonlySet<number> = new Set()) {}

  complete(request: LlmRequest): Promise<LlmResponse> {
    this.calls++;
    if (this.limited.has(this.calls))
      return Promise.reject(
        new ProviderError(
          { provider: this.name, kind: "rate_limited", status: 429, retryAfterMs: 1 },
          "slow down",
        ),
      );
    return Promise.resolve({
      message: { role: "assistant", content: `answer ${this.calls}` },
      usage: { inputTokens: 100, outputTokens: 20 },
      model: request.model,
      finishReason: "stop",
      costUsd: 0.25,
    });
  }
}

/** Samples of a Prometheus text exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function metricNames(text: string): Set<string> {
  return new Set(
    [...samples(text).keys()].map((k) =>
      k.replace(/\{.*$/, "").replace(/_(bucket|sum|count)$/, ""),
    ),
  );
}

async function open(provider: LlmProvider) {
  return Flotilla.open({
    store: tempStore(),
    providers: { default: provider },
    worker: { pollMs: 20 },
    resilience: { defaults: { backoff: { baseMs: 1, maxMs: 5 } } },
  });
}

void describe("flotilla.metrics()", () => {
  void it("counts what ran: runs by status, dead letters, steps, requests and 429s, tool calls, tokens, cost", async () => {
    // The second provider call is refused with a 429, then retried.
    const provider = new PricedProvider(new Set([2]));
    const f = await open(provider);
    try {
      const ledger = f.tool("ledger.write", {
        effect: "idempotent",
        run: (a: { n: number }) => Promise.resolve({ wrote: a.n }),
      });
      const refund = f.tool("payments.refund", {
        effect: "idempotent",
        run: () =>
          Promise.reject(
            new ToolRejectedError("card declined", { retryable: false, kind: "auth" }),
          ),
      });
      const lookup = f.tool("crm.lookup", {
        effect: "read",
        run: () =>
          Promise.reject(
            new ProviderError({ provider: "crm", kind: "auth", status: 401 }, "bad credentials"),
          ),
      });
      const worker = f.agent("worker", async (ctx, n: number) => {
        await ctx.llm({ model: "m-small", messages: [{ role: "user", content: `task ${n}` }] });
        return ctx.call(ledger, { n });
      });
      const broken = f.agent("broken", async (ctx) => {
        await ctx.call(refund, {}).catch(() => undefined);
        return ctx.call(lookup, {});
      });
      for (const n of [1, 2, 3]) await (await f.start(worker, n, { tenant: "acme" })).result();
      const failing = await f.start(broken, null);
      await assert.rejects(failing.result());

      const text = await f.metrics();
      const s = samples(text);
      const names = [...metricNames(text)].filter((n) => n.startsWith("flotilla_"));
      assert.ok(names.length >= 5, `flotilla_ series: ${names.join(", ")}`);

      assert.equal(s.get('flotilla_runs{status="completed"}'), 3);
      assert.equal(s.get('flotilla_runs{status="dead-lettered"}'), 1);
      assert.equal(s.get('flotilla_runs{status="running"}'), 0);
      assert.equal(s.get('flotilla_dead_letters{class="non-retryable",status="open"}'), 1);
      assert.equal(s.get("flotilla_store_up"), 1);

      // Four provider attempts for three calls: one 429, retried once.
      assert.equal(provider.calls, 4);
      assert.equal(
        s.get('flotilla_dependency_requests_total{dependency="priced:m-small",outcome="ok"}'),
        3,
      );
      assert.equal(
        s.get(
          'flotilla_dependency_requests_total{dependency="priced:m-small",outcome="rate_limited"}',
        ),
        1,
      );
      assert.equal(s.get('flotilla_dependency_rate_limited_total{dependency="priced:m-small"}'), 1);
      assert.equal(s.get('flotilla_retries_total{dependency="priced:m-small"}'), 1);
      assert.equal(s.get('flotilla_breaker_state{dependency="priced:m-small",state="closed"}'), 1);
      assert.ok((s.get('flotilla_retry_budget_remaining{dependency="priced:m-small"}') ?? -1) >= 0);

      // Tool attempts are dependency requests too.
      assert.equal(
        s.get('flotilla_dependency_requests_total{dependency="tool:ledger.write",outcome="ok"}'),
        3,
      );
      assert.equal(
        s.get('flotilla_dependency_requests_total{dependency="tool:crm.lookup",outcome="error"}'),
        1,
      );
      assert.equal(s.get('flotilla_tool_calls_total{tool="ledger.write",outcome="committed"}'), 3);
      assert.equal(s.get('flotilla_tool_calls_total{tool="payments.refund",outcome="failed"}'), 1);
      assert.equal(s.get('flotilla_tool_calls_total{tool="crm.lookup",outcome="error"}'), 1);

      assert.equal(
        s.get('flotilla_llm_tokens_total{model="m-small",tenant="acme",type="input"}'),
        300,
      );
      assert.equal(
        s.get('flotilla_llm_tokens_total{model="m-small",tenant="acme",type="output"}'),
        60,
      );
      assert.equal(s.get('flotilla_llm_cost_usd_total{model="m-small",tenant="acme"}'), 0.75);

      assert.equal(s.get('flotilla_step_duration_seconds_count{kind="llm",outcome="ok"}'), 3);
      assert.equal(s.get('flotilla_step_duration_seconds_count{kind="tool",outcome="ok"}'), 3);
      assert.equal(s.get('flotilla_step_duration_seconds_count{kind="tool",outcome="error"}'), 2);
      assert.equal(s.get('flotilla_executions_total{agent="worker",outcome="completed"}'), 3);
      assert.equal(s.get('flotilla_executions_total{agent="broken",outcome="dead-lettered"}'), 1);
    } finally {
      await f.close();
    }
  });

  void it("keeps a registry per instance: two instances count apart and both export", async () => {
    const a = await open(new PricedProvider());
    const b = await open(new PricedProvider());
    try {
      const agentA = a.agent("one", async (ctx) => {
        await ctx.llm({ model: "m", messages: [{ role: "user", content: "hi" }] });
        return 1;
      });
      b.agent("one", () => Promise.resolve(1));
      await (await a.start(agentA, null)).result();
      const sa = samples(await a.metrics());
      const sb = samples(await b.metrics());
      assert.equal(
        sa.get('flotilla_dependency_requests_total{dependency="priced:m",outcome="ok"}'),
        1,
      );
      assert.equal(
        sb.get('flotilla_dependency_requests_total{dependency="priced:m",outcome="ok"}'),
        undefined,
      );
      assert.equal(sb.get('flotilla_runs{status="completed"}'), 0);
      assert.match(a.telemetry.metrics.contentType, /^text\/plain/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  void it("shows the fleet scheduler's admission queue depth, calls in flight and concurrency limit", async () => {
    const fleet = await openFleet({
      dependencies: { "gated:m": { maxConcurrency: 1, minConcurrency: 1, initialConcurrency: 1 } },
    });
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    let inFlight = 0;
    const gated: LlmProvider = {
      name: "gated",
      async complete(request) {
        inFlight++;
        await released;
        return {
          message: { role: "assistant", content: "ok" },
          usage: { inputTokens: 1, outputTokens: 1 },
          model: request.model,
          finishReason: "stop",
        };
      },
    };
    const f = await Flotilla.open({
      store: tempStore(),
      providers: { default: gated },
      admission: fleet,
      worker: { pollMs: 20 },
    });
    try {
      const ask = f.agent("ask", (ctx) =>
        ctx.llm({ model: "m", messages: [{ role: "user", content: "?" }] }),
      );
      const runs = await Promise.all([1, 2, 3].map(() => f.start(ask, null)));
      let s = samples(await f.metrics());
      for (
        let i = 0;
        i < 500 && s.get('flotilla_admission_queue_depth{dependency="gated:m"}') !== 2;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
        s = samples(await f.metrics());
      }
      assert.equal(inFlight, 1);
      assert.equal(s.get('flotilla_admission_queue_depth{dependency="gated:m"}'), 2);
      assert.equal(s.get('flotilla_admission_in_flight{dependency="gated:m"}'), 1);
      assert.equal(s.get('flotilla_admission_concurrency_limit{dependency="gated:m"}'), 1);
      assert.equal(s.get('flotilla_runs{status="running"}'), 3);
      release();
      for (const r of runs) await r.result({ timeoutMs: 10_000 });
      s = samples(await f.metrics());
      assert.equal(s.get('flotilla_admission_queue_depth{dependency="gated:m"}'), 0);
      assert.equal(s.get('flotilla_runs{status="completed"}'), 3);
    } finally {
      release();
      await f.close();
      await fleet.close();
    }
  });

  void it("reports the store as down instead of failing the scrape", async () => {
    const f = await open(new PricedProvider());
    await f.close();
    const s = samples(await f.metrics());
    assert.equal(s.get("flotilla_store_up"), 0);
    assert.equal(s.get('flotilla_runs{status="completed"}'), undefined);
  });
});
