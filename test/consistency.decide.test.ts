import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import {
  DECISIONS,
  Flotilla,
  decisionKey,
  isFlotillaError,
  readDecision,
  regionState,
  type RunContext,
} from "../src/index.js";
import { FakeProvider } from "./helpers/fakeProvider.js";
import { tempStore } from "./helpers/tempStore.js";

/** ctx.decide: one answer per entity and key for branches, children and later runs, replayed as journaled. */

function open(store: string, provider = new FakeProvider(), inlineWaitMs?: number) {
  return Flotilla.open({
    store,
    providers: { default: provider },
    worker: { pollMs: 20, leaseMs: 2000, concurrency: 20 },
    stopGraceMs: 500,
    ...(inlineWaitMs === undefined ? {} : { inlineWaitMs }),
  });
}

/** A decision that asks the model: each call answers something new (FakeProvider is random). */
async function askPlan(ctx: RunContext): Promise<string> {
  const r = await ctx.llm({ model: "m", messages: [{ role: "user", content: "plan?" }] });
  return r.message.content ?? "";
}

describe("ctx.decide", () => {
  it("gives every parallel branch of a run the one answer, computed once", async () => {
    const provider = new FakeProvider();
    const f = await open(tempStore(), provider);
    try {
      let computed = 0;
      const agent = f.agent("cd.branches", async (ctx) => {
        const ask = (c: RunContext) =>
          c.decide("customer:1", "plan", () => {
            computed++;
            return askPlan(c);
          });
        return ctx.all([ask, ask, ask, ask, ask, ask]);
      });
      const run = await f.start(agent, null);
      const answers = await run.result({ timeoutMs: 10_000 });
      assert.equal(new Set(answers).size, 1, `one answer, got ${JSON.stringify(answers)}`);
      assert.equal(computed, 1, "the branches that asked while it was decided waited for it");
      assert.equal(provider.calls, 1);
      const pinned = await readDecision(f, "customer:1", "plan");
      assert.equal(pinned?.value, answers[0]);
      assert.equal(pinned?.decidedBy.runId, run.id);
      assert.equal(pinned?.decidedBy.agent, "cd.branches");
      assert.match(
        pinned?.decidedBy.step ?? "",
        /^\d+\.\d+\.\d+$/,
        "the branch step that pinned it",
      );
    } finally {
      await f.close();
    }
  });

  it("gives children, concurrent runs and later runs the answer pinned first", async () => {
    const f = await open(tempStore());
    try {
      const child = f.agent("cd.child", (ctx) =>
        ctx.decide("order:9", "status", () => askPlan(ctx)),
      );
      const parent = f.agent("cd.parent", (ctx) =>
        ctx.all([0, 1, 2, 3].map(() => ctx.spawn(child, null))),
      );
      const solo = f.agent("cd.solo", (ctx) => ctx.decide("order:9", "status", () => askPlan(ctx)));
      const runs = await Promise.all([
        f.start(parent, null),
        ...[0, 1, 2, 3].map(() => f.start(solo, null)),
      ]);
      const [fromChildren, ...fromRuns] = await Promise.all(
        runs.map((r) => r.result({ timeoutMs: 10_000 })),
      );
      const all = [...(fromChildren as string[]), ...(fromRuns as string[])];
      assert.equal(new Set(all).size, 1, `one answer, got ${JSON.stringify(all)}`);
      const later = f.agent("cd.later", (ctx) =>
        ctx.decide("order:9", "status", () => {
          throw new Error("a pinned decision is not computed again");
        }),
      );
      assert.equal(await (await f.start(later, null)).result({ timeoutMs: 10_000 }), all[0]);
      assert.equal((await readDecision(f, "order:9", "status"))?.value, all[0]);
    } finally {
      await f.close();
    }
  });

  it("PostgreSQL: runs on 3 worker instances, each with 3 branches asking at once, get one answer", async (t) => {
    const skip = await postgresSkipReason();
    if (skip) return t.skip(skip);
    const db = await freshDatabase();
    const instances: Flotilla[] = [];
    try {
      for (let i = 0; i < 3; i++)
        instances.push(
          await Flotilla.open({
            store: db.url,
            providers: { default: new FakeProvider() },
            worker: { pollMs: 20, concurrency: 8 },
          }),
        );
      const agents = instances.map((f) =>
        f.agent("cd.pg", (ctx) => {
          const ask = (c: RunContext) => c.decide("account:3", "region", () => askPlan(c));
          return ctx.all([ask, ask, ask]);
        }),
      );
      const runs = await Promise.all(
        Array.from({ length: 12 }, (_, i) => instances[i % 3]!.start(agents[i % 3]!, null)),
      );
      const answers = (await Promise.all(runs.map((r) => r.result({ timeoutMs: 20_000 })))).flat();
      assert.equal(new Set(answers).size, 1, `one answer, got ${JSON.stringify(answers)}`);
      const pinned = await readDecision(instances[0]!, "account:3", "region");
      assert.equal(pinned?.value, answers[0]);
      assert.ok(runs.some((r) => r.id === pinned?.decidedBy.runId));
    } finally {
      for (const f of instances) await f.close();
      await db.drop();
    }
  });

  it("replays the answer it journaled after a restart, even once the pin was overruled", async () => {
    const store = tempStore();
    let executions = 0;
    const define = (f: Flotilla) =>
      f.agent("cd.replay", async (ctx) => {
        executions++;
        const first = await ctx.decide("customer:7", "tier", () => askPlan(ctx));
        await ctx.waitFor("go");
        const again = await ctx.decide("customer:7", "tier", () => askPlan(ctx));
        return { first, again };
      });
    const a = await open(store, new FakeProvider(), 0);
    let runId: string;
    try {
      const run = await a.start(define(a), null);
      runId = run.id;
      for (let i = 0; i < 100 && (await a.getRun(run.id)).status !== "waiting"; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal((await a.getRun(run.id)).status, "waiting");
    } finally {
      await a.close();
    }
    const provider = new FakeProvider();
    const b = await open(store, provider, 0);
    try {
      define(b);
      await b.worker();
      const before = await readDecision(b, "customer:7", "tier");
      assert.ok(before);
      await regionState(b, DECISIONS, { actor: "ops" }).write(
        decisionKey("customer:7", "tier"),
        { entity: "customer:7", key: "tier", value: "overruled" },
        { ifVersion: before.version },
      );
      await b.signal(runId, "go");
      const out = await b.handle(runId).result({ timeoutMs: 10_000 });
      assert.deepEqual(out, { first: before.value, again: "overruled" });
      assert.equal(provider.calls, 0, "the decision was not asked of the model again");
      assert.ok(executions >= 2, "the run was replayed");
    } finally {
      await b.close();
    }
  });

  it("pins nothing when fn fails, and refuses asking a decision from inside its own fn", async () => {
    const f = await open(tempStore());
    try {
      let attempts = 0;
      const agent = f.agent("cd.failing", async (ctx) => {
        const codes: string[] = [];
        try {
          await ctx.decide("customer:2", "plan", () => {
            attempts++;
            throw new Error("the CRM is down");
          });
        } catch (err) {
          codes.push(err instanceof Error ? err.message : "?");
        }
        try {
          await ctx.decide("customer:2", "plan", () =>
            ctx.decide("customer:2", "plan", () => "inner"),
          );
        } catch (err) {
          codes.push(isFlotillaError(err) ? err.code : "other");
        }
        const value = await ctx.decide("customer:2", "plan", () => {
          attempts++;
          return "pro";
        });
        return { codes, value };
      });
      const out = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
      assert.deepEqual(out, {
        codes: ["the CRM is down", "FLOTILLA_INVALID_ARGUMENT"],
        value: "pro",
      });
      assert.equal(attempts, 2);
    } finally {
      await f.close();
    }
  });

  it("refuses bad input with typed errors before taking a step", async () => {
    const f = await open(tempStore());
    try {
      const agent = f.agent("cd.bad", async (ctx) => {
        const tries: (() => Promise<unknown>)[] = [
          () => ctx.decide("", "plan", () => 1),
          () => ctx.decide("customer:1", 5 as unknown as string, () => 1),
          () => ctx.decide(undefined as unknown as string, "plan", () => 1),
          () => ctx.decide("x".repeat(2000), "plan", () => 1),
          () => ctx.decide("customer:1", "plan", "pro" as unknown as () => string),
          () => ctx.decide("customer:1", "plan", () => undefined),
          () => ctx.decide("customer:1", "plan", () => new Date(0)),
          () => ctx.decide("customer:1", "plan", () => ({ n: Number.NaN })),
        ];
        const out: { code: string; field: unknown }[] = [];
        for (const t of tries) {
          try {
            await t();
            out.push({ code: "none", field: null });
          } catch (err) {
            out.push(
              isFlotillaError(err)
                ? { code: err.code, field: err.details.field ?? null }
                : { code: "untyped", field: null },
            );
          }
        }
        return out;
      });
      const out = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
      assert.deepEqual(
        out.map((o) => o.code),
        Array(8).fill("FLOTILLA_INVALID_ARGUMENT"),
      );
      assert.deepEqual(
        out.slice(0, 5).map((o) => o.field),
        ["entity", "key", "entity", "entity", "fn"],
      );
      for (const o of out.slice(5))
        assert.match(String(o.field), /^the answer fn gave ctx\.decide\("customer:1", "plan"\)/);
      assert.equal(await readDecision(f, "customer:1", "plan"), null);
    } finally {
      await f.close();
    }
  });
});
