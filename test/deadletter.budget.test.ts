import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LlmRequest, LlmResponse } from "../src/index.js";
import { LoopGuard, DEFAULT_LOOP_THRESHOLDS } from "../src/deadletter/loops.js";
import { openFlotilla, ScriptedProvider, settle } from "./helpers/deadletter.js";

/** A provider that answers after a pause, so concurrent calls overlap, and bills $0.01 per call. */
class SlowProvider extends ScriptedProvider {
  override async complete(request: LlmRequest, o: { signal: AbortSignal }): Promise<LlmResponse> {
    await new Promise((r) => setTimeout(r, 3));
    return super.complete(request, o);
  }
}

describe("budgets", () => {
  it("children drawing concurrently from the root's budget never overspend it", async () => {
    const provider = new SlowProvider((_r, n) => `answer ${n}`, 0.01);
    const f = await openFlotilla(provider, {
      // $1,000 per million tokens: a call reserves (9 input + 10 output) × $0.001 = $0.019.
      budgets: { prices: { m: { input: 1000, output: 1000 } } },
      worker: { pollMs: 10, concurrency: 32 },
    });
    const child = f.agent("child", async (ctx, id: number) => {
      for (let i = 0; ; i++)
        await ctx.llm({
          model: "m",
          maxTokens: 10,
          messages: [{ role: "user", content: String((id * 100 + i) % 10) }],
        });
    });
    const parent = f.agent("parent", async (ctx) =>
      ctx.all(Array.from({ length: 8 }, (_, i) => ctx.spawn(child, i))),
    );
    try {
      const run = await f.start(parent, null, { budget: { usd: 0.1 } });
      await settle(f, run.id);
      // The first child refused by the budget fails ctx.all, which cancels and awaits the others:
      // each ends dead-lettered (refused too) or cancelled, and all have settled with the parent.
      const children = await f.store.listRuns({ parentId: run.id });
      assert.equal(children.length, 8);
      const refused = children.filter((c) => c.status === "dead-lettered");
      assert.ok(refused.length >= 1, "the budget refused a child");
      assert.deepEqual(
        children.filter((c) => c.status !== "dead-lettered").map((c) => c.status),
        Array<string>(8 - refused.length).fill("cancelled"),
      );
      for (const c of refused) {
        const [entry] = await f.listDeadLetters({ runId: c.id });
        assert.equal(entry?.class, "budget-exhausted");
      }
      const ledger = await f.store.readBudget(`run:${run.id}`);
      assert.ok(ledger.spentUsd <= 0.1 + 1e-9, `spent ${ledger.spentUsd} of $0.10`);
      assert.ok(provider.calls * 0.01 <= 0.1 + 1e-9, `${provider.calls} calls billed`);
      assert.ok(provider.calls >= 5, "the budget was used, not refused up front");
      assert.equal(ledger.reservedUsd, 0, "every reservation was settled");
      assert.equal(
        Math.round(ledger.spentUsd * 100),
        provider.calls,
        "the ledger matches the bill",
      );
    } finally {
      await f.close();
    }
  });

  it("tenant and global budgets apply across runs", async () => {
    const provider = new ScriptedProvider((_r, n) => `a${n}`, 0.01);
    const f = await openFlotilla(provider, {
      budgets: { prices: { m: { input: 0, output: 1000 } }, tenants: { acme: { usd: 0.025 } } },
    });
    const agent = f.agent("a", async (ctx) =>
      ctx.llm({ model: "m", maxTokens: 10, messages: [{ role: "user", content: "q" }] }),
    );
    const results = [];
    for (let i = 0; i < 4; i++) {
      const r = await f.start(agent, null, { tenant: "acme" });
      await settle(f, r.id);
      results.push((await r.status()).status);
    }
    const other = await f.start(agent, null, { tenant: "other" });
    await settle(f, other.id);
    assert.deepEqual(results, ["completed", "completed", "dead-lettered", "dead-lettered"]);
    assert.equal((await other.status()).status, "completed", "another tenant is not affected");
    await f.close();
  });

  it("rejects bad budget options naming the field", async () => {
    const f = await openFlotilla(new ScriptedProvider());
    const agent = f.agent("a", async () => null);
    await assert.rejects(
      f.start(agent, null, { budget: { usd: -1 } }),
      /start options\.budget\.usd: .*received -1/,
    );
    await f.close();
  });
});

describe("loop detectors", () => {
  it("trips on the third solver → checker hop along a chain of spawned runs", () => {
    const guard = (lineage: string[], agent: string) =>
      new LoopGuard("r", DEFAULT_LOOP_THRESHOLDS, lineage, agent);
    assert.doesNotThrow(() => guard(["solver", "checker"], "solver").checkSpawn("checker"));
    assert.throws(
      () => guard(["solver", "checker", "solver", "checker"], "solver").checkSpawn("checker"),
      /ping-pong/,
    );
  });
});
