import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import {
  DECISIONS,
  Flotilla,
  decisionKey,
  escalatedConflicts,
  isFlotillaError,
  readDecision,
  reconcileSignal,
  regionState,
  type Assertion,
  type Json,
  type LlmRequest,
  type Reconciled,
  type ReconcileOptions,
} from "../src/index.js";
import { FakeProvider } from "./helpers/fakeProvider.js";
import { tempStore } from "./helpers/tempStore.js";

/** ctx.reconcile at fan-in: conflicts found, each policy, nothing passed on silently, typed errors. */

type Facts = Record<string, Record<string, Json>>;
interface Output {
  facts: Facts;
}

/** The assertions of an output `{ facts: { entity: { key: value } } }`. */
const facts = (o: Output): Assertion[] =>
  Object.entries(o.facts).flatMap(([entity, kv]) =>
    Object.entries(kv).map(([key, value]) => ({ entity, key, value })),
  );

const out = (f: Facts): Output => ({ facts: f });

function open(
  provider: FakeProvider = new FakeProvider(),
  inlineWaitMs?: number,
  store = tempStore(),
) {
  return Flotilla.open({
    store,
    providers: { default: provider },
    worker: { pollMs: 20, leaseMs: 2000, concurrency: 20 },
    stopGraceMs: 500,
    ...(inlineWaitMs === undefined ? {} : { inlineWaitMs }),
  });
}

/** An agent whose branches return the given outputs, reconciled with `options`. */
function fanIn(f: Flotilla, name: string, options: Omit<ReconcileOptions<Output>, "assertions">) {
  return f.agent(name, async (ctx, outputs: Output[]) => {
    const branches = await ctx.all(outputs.map((o) => () => Promise.resolve(o)));
    return ctx.reconcile(branches, { assertions: facts, ...options });
  });
}

/** A provider that answers a re-ask with `pick(candidates)`, recording each request. */
function chooser(pick: (candidates: Json[]) => Json) {
  const requests: LlmRequest[] = [];
  const provider = new FakeProvider((req) => {
    requests.push(req);
    const schema = req.responseFormat?.schema as { properties: { value: { enum: Json[] } } };
    return JSON.stringify({ value: pick(schema.properties.value.enum) });
  });
  return { provider, requests };
}

const codeOf = (err: unknown) => (isFlotillaError(err) ? err.code : "untyped");

describe("ctx.reconcile", () => {
  it("vote: the majority wins, agreed facts pass through, and the result is journaled", async () => {
    const f = await open();
    try {
      const agent = fanIn(f, "cr.vote", { policy: "vote" });
      const outputs = [
        out({ "customer:1": { plan: "pro" }, "order:1": { status: "shipped" } }),
        out({ "customer:1": { plan: "free" }, "order:1": { status: "shipped" } }),
        out({ "customer:1": { plan: "pro" }, "order:1": { status: "shipped" } }),
        out({ "customer:1": { plan: "free", region: "eu" }, "order:1": { status: "shipped" } }),
        out({ "customer:1": { plan: "pro" }, "order:1": { status: "shipped" } }),
      ];
      const run = await f.start(agent, outputs);
      const r = await run.result({ timeoutMs: 10_000 });
      assert.deepEqual(r.assertions, [
        { entity: "customer:1", key: "plan", value: "pro", branches: [0, 2, 4], conflict: true },
        {
          entity: "order:1",
          key: "status",
          value: "shipped",
          branches: [0, 1, 2, 3, 4],
          conflict: false,
        },
        { entity: "customer:1", key: "region", value: "eu", branches: [3], conflict: false },
      ]);
      assert.deepEqual(r.conflicts, [
        {
          entity: "customer:1",
          key: "plan",
          candidates: [
            { value: "pro", branches: [0, 2, 4] },
            { value: "free", branches: [1, 3] },
          ],
          value: "pro",
          policy: "vote",
          resolution: "majority",
          pinned: false,
          note: "asserted by 3 of 5 branches",
        },
      ]);
      assert.deepEqual(r.resolvedBy, { majority: 1 });
      assert.equal(r.asserted, 11);
      const journaled = (await f.store.readJournal(run.id)).find(
        (e) => e.type === "step.completed" && (e.data as { kind?: string }).kind === "reconcile",
      );
      assert.deepEqual((journaled?.data as { value: Json }).value, r as unknown as Json);
    } finally {
      await f.close();
    }
  });

  it("vote: a tie fails with FLOTILLA_RECONCILE_TIE, or is re-asked among the tied values", async () => {
    const { provider, requests } = chooser((c) => c[1] ?? null);
    const f = await open(provider);
    try {
      const tied = [
        out({ "customer:1": { plan: "pro" } }),
        out({ "customer:1": { plan: "free" } }),
        out({ "customer:1": { plan: "free" } }),
        out({ "customer:1": { plan: "pro" } }),
        out({ "customer:1": { plan: "team" } }),
      ];
      const failing = f.agent("cr.tie", async (ctx, outputs: Output[]) => {
        try {
          await ctx.reconcile(outputs, { assertions: facts, policy: "vote" });
          return { code: "none", tied: null };
        } catch (err) {
          return {
            code: codeOf(err),
            tied: isFlotillaError(err) ? (err.details.tied as Json) : null,
          };
        }
      });
      assert.deepEqual(await (await f.start(failing, tied)).result({ timeoutMs: 10_000 }), {
        code: "FLOTILLA_RECONCILE_TIE",
        tied: [
          { value: "pro", branches: [0, 3] },
          { value: "free", branches: [1, 2] },
        ],
      });
      const reAsked = fanIn(f, "cr.tie.reask", {
        policy: "vote",
        onTie: "re-ask",
        reAsk: { model: "judge" },
      });
      const r = await (await f.start(reAsked, tied)).result({ timeoutMs: 10_000 });
      assert.equal(r.conflicts[0]?.resolution, "re-ask");
      assert.equal(r.assertions[0]?.value, "free");
      assert.equal(requests.length, 1);
      const schema = requests[0]?.responseFormat?.schema as {
        properties: { value: { enum: Json[] } };
      };
      assert.deepEqual(schema.properties.value.enum, ["pro", "free"], "only the tied values");
    } finally {
      await f.close();
    }
  });

  it("prefer-pinned: the pin wins, even over branches that all agree; with no pin the majority is pinned", async () => {
    const f = await open();
    try {
      const pinner = f.agent("cr.pinner", async (ctx) => {
        await ctx.decide("customer:1", "plan", () => "enterprise");
        await ctx.decide("order:1", "status", () => "lost");
      });
      const pinRun = await f.start(pinner, null);
      await pinRun.result({ timeoutMs: 10_000 });
      const agent = fanIn(f, "cr.prefer", { policy: "prefer-pinned" });
      const run = await f.start(agent, [
        out({
          "customer:1": { plan: "pro" },
          "order:1": { status: "shipped" },
          "customer:2": { plan: "pro" },
          "customer:3": { plan: "free" },
        }),
        out({
          "customer:1": { plan: "free" },
          "order:1": { status: "shipped" },
          "customer:2": { plan: "free" },
          "customer:3": { plan: "free" },
        }),
        out({
          "customer:1": { plan: "pro" },
          "order:1": { status: "shipped" },
          "customer:2": { plan: "pro" },
          "customer:3": { plan: "free" },
        }),
      ]);
      const r = await run.result({ timeoutMs: 10_000 });
      const by = Object.fromEntries(r.conflicts.map((c) => [`${c.entity} ${c.key}`, c]));
      assert.deepEqual(
        r.assertions.map((a) => [a.entity, a.value, a.conflict]),
        [
          ["customer:1", "enterprise", true],
          ["order:1", "lost", true],
          ["customer:2", "pro", true],
          ["customer:3", "free", false],
        ],
      );
      assert.equal(by["customer:1 plan"]?.resolution, "pinned");
      assert.match(
        by["customer:1 plan"]?.note ?? "",
        new RegExp(`run ${pinRun.id} \\(cr.pinner\\)`),
      );
      assert.equal(
        by["order:1 status"]?.resolution,
        "pinned",
        "all branches agreed, against the pin",
      );
      assert.deepEqual(by["order:1 status"]?.candidates, [
        { value: "shipped", branches: [0, 1, 2] },
      ]);
      assert.equal(by["customer:2 plan"]?.resolution, "majority");
      assert.equal(by["customer:2 plan"]?.pinned, true);
      const pinned = await readDecision(f, "customer:2", "plan");
      assert.equal(pinned?.value, "pro");
      assert.equal(pinned?.decidedBy.runId, run.id);
      assert.equal(await readDecision(f, "customer:3", "plan"), null, "agreement is not pinned");
      assert.deepEqual(r.resolvedBy, { pinned: 2, majority: 1 });
    } finally {
      await f.close();
    }
  });

  it("pin: true under vote: a value pinned meanwhile stands, and the report says so", async () => {
    const f = await open();
    try {
      await regionState(f, DECISIONS, { actor: "ops" }).write(
        decisionKey("customer:5", "tier"),
        { entity: "customer:5", key: "tier", value: "gold" },
        { ifVersion: 0 },
      );
      const agent = fanIn(f, "cr.pin", { policy: "vote", pin: true });
      const r = await (
        await f.start(agent, [
          out({ "customer:5": { tier: "silver" } }),
          out({ "customer:5": { tier: "bronze" } }),
          out({ "customer:5": { tier: "silver" } }),
        ])
      ).result({ timeoutMs: 10_000 });
      assert.equal(r.assertions[0]?.value, "gold");
      assert.deepEqual(r.assertions[0]?.branches, []);
      assert.equal(r.conflicts[0]?.resolution, "pinned");
      assert.match(
        r.conflicts[0]?.note ?? "",
        /majority chose "silver", but "gold" was pinned meanwhile/,
      );
    } finally {
      await f.close();
    }
  });

  it("escalate: waits durably for a human's signal per conflict, shown by escalatedConflicts", async () => {
    const f = await open(new FakeProvider(), 0);
    try {
      let executions = 0;
      const agent = f.agent("cr.escalate", async (ctx, outputs: Output[]) => {
        executions++;
        return ctx.reconcile(outputs, { assertions: facts, policy: "escalate" });
      });
      const run = await f.start(agent, [
        out({
          "customer:1": { plan: "pro" },
          "order:1": { status: "shipped" },
          "order:2": { status: "lost" },
        }),
        out({
          "customer:1": { plan: "free" },
          "order:1": { status: "pending" },
          "order:2": { status: "lost" },
        }),
      ]);
      let waiting: Awaited<ReturnType<typeof escalatedConflicts>> = [];
      for (let i = 0; i < 200 && waiting.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        waiting = await escalatedConflicts(f, run.id);
      }
      assert.deepEqual(
        waiting.map((w) => [w.signal, w.candidates.map((c) => c.value)]),
        [
          [reconcileSignal("customer:1", "plan"), ["pro", "free"]],
          [reconcileSignal("order:1", "status"), ["shipped", "pending"]],
        ],
      );
      assert.equal(waiting[0]?.signal, "reconcile:customer:1/plan");
      for (let i = 0; i < 100 && (await run.status()).status !== "waiting"; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal((await run.status()).status, "waiting");
      // Answered out of order: each signal waits for its own conflict.
      await run.signal(reconcileSignal("order:1", "status"), { value: "pending" });
      await run.signal(reconcileSignal("customer:1", "plan"), { value: "enterprise" });
      const r: Reconciled = await run.result({ timeoutMs: 10_000 });
      assert.deepEqual(
        r.assertions.map((a) => [a.entity, a.value, a.branches]),
        [
          ["customer:1", "enterprise", []],
          ["order:1", "pending", [1]],
          ["order:2", "lost", [0, 1]],
        ],
      );
      assert.deepEqual(r.resolvedBy, { human: 2 });
      assert.match(r.conflicts[0]?.note ?? "", /a value no branch asserted/);
      assert.deepEqual(await escalatedConflicts(f, run.id), []);
      assert.ok(executions >= 2, "the run suspended and was replayed");
    } finally {
      await f.close();
    }
  });

  it("escalate: a signal without { value } and a wait past its timeout are typed errors", async () => {
    const f = await open();
    try {
      const conflicting = [out({ "c:1": { plan: "pro" } }), out({ "c:1": { plan: "free" } })];
      const agent = f.agent("cr.escalate.bad", async (ctx, timeoutMs: number | null) => {
        try {
          await ctx.reconcile(conflicting, {
            assertions: facts,
            policy: "escalate",
            ...(timeoutMs === null ? {} : { escalate: { timeoutMs } }),
          });
          return ["none", ""];
        } catch (err) {
          return [codeOf(err), err instanceof Error ? err.message : ""];
        }
      });
      const bad = await f.start(agent, null);
      await bad.signal(reconcileSignal("c:1", "plan"), "free");
      const [code, message] = await bad.result({ timeoutMs: 10_000 });
      assert.equal(code, "FLOTILLA_INVALID_ARGUMENT");
      assert.match(message ?? "", /signal 'reconcile:c:1\/plan' must carry \{ value \}/);
      const late = await f.start(agent, 100);
      assert.equal((await late.result({ timeoutMs: 10_000 }))[0], "FLOTILLA_TIMEOUT");
    } finally {
      await f.close();
    }
  });

  it("re-ask: one call shows the conflict, must answer a candidate, and is replayed", async () => {
    const { provider, requests } = chooser((c) => c[1] ?? null);
    const store = tempStore();
    const f = await open(provider, 0, store);
    try {
      const agent = f.agent("cr.reask", async (ctx, outputs: Output[]) => {
        const r = await ctx.reconcile(outputs, {
          assertions: facts,
          policy: "re-ask",
          reAsk: { model: "judge", context: "Ticket 7: the customer upgraded last week." },
        });
        await ctx.waitFor("go");
        return r;
      });
      const run = await f.start(agent, [
        out({ "customer:1": { plan: { name: "pro", seats: 5 } } }),
        out({ "customer:1": { plan: { seats: 5, name: "pro" } } }),
        out({ "customer:1": { plan: { name: "team", seats: 5 } } }),
      ]);
      for (let i = 0; i < 100 && (await run.status()).status !== "waiting"; i++)
        await new Promise((r) => setTimeout(r, 20));
      await run.signal("go");
      const r = await run.result({ timeoutMs: 10_000 });
      assert.deepEqual(r.assertions[0]?.value, { name: "team", seats: 5 });
      assert.equal(r.conflicts[0]?.resolution, "re-ask");
      assert.equal(requests.length, 1, "asked once; the replay read the journal");
      const req = requests[0]!;
      assert.equal(req.temperature, 0);
      const user = req.messages.at(-1)?.content ?? "";
      assert.match(user, /Entity: customer:1\nFact: plan/);
      assert.match(user, /\{"name":"pro","seats":5\} \(asserted by 2 of 3 analyses\)/);
      assert.match(user, /Ticket 7/);

      const { provider: liar } = chooser(() => "gold");
      f.registerProvider("liar", liar);
      const strict = f.agent("cr.reask.strict", async (ctx) => {
        try {
          await ctx.reconcile([out({ "c:1": { plan: "pro" } }), out({ "c:1": { plan: "free" } })], {
            assertions: facts,
            policy: "re-ask",
            reAsk: { model: "judge", provider: "liar" },
          });
          return "none";
        } catch (err) {
          return codeOf(err);
        }
      });
      assert.equal(
        await (await f.start(strict, null)).result({ timeoutMs: 10_000 }),
        "FLOTILLA_VALIDATION_FAILED",
      );
      assert.equal(liar.calls, 3, "re-sampled, then refused: never a value nobody asserted");
    } finally {
      await f.close();
    }
  });

  it("passes no conflict on silently (seeded random outputs)", async () => {
    const { provider } = chooser((c) => c[0] ?? null);
    const f = await open(provider);
    try {
      let seed = 20240611;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const pool: Json[] = ["a", "b", 1, null, { x: 1, y: [2] }, { y: [2], x: 1 }, [1, 2]];
      const cases = Array.from({ length: 60 }, () =>
        Array.from({ length: 2 + rand(5) }, () =>
          Array.from({ length: rand(5) }, () => ({
            entity: `e${rand(3)}`,
            key: `k${rand(2)}`,
            value: pool[rand(pool.length)] ?? null,
          })),
        ),
      );
      const agent = f.agent("cr.property", async (ctx, sets: Assertion[][][]) => {
        const results: Reconciled[] = [];
        for (const outputs of sets)
          results.push(
            await ctx.reconcile(outputs, {
              assertions: (o) => o,
              policy: "vote",
              onTie: "re-ask",
              reAsk: { model: "judge" },
            }),
          );
        return results;
      });
      const results = await (await f.start(agent, cases)).result({ timeoutMs: 30_000 });
      const canon = (v: Json): string =>
        JSON.stringify(v, (_k, x: unknown) =>
          x && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
            : x,
        );
      let conflicts = 0;
      for (const [i, outputs] of cases.entries()) {
        const r = results[i]!;
        const said = new Map<string, Set<string>>();
        for (const a of outputs.flat()) {
          const id = `${a.entity} ${a.key}`;
          said.set(id, (said.get(id) ?? new Set()).add(canon(a.value)));
        }
        const expected = [...said]
          .filter(([, v]) => v.size > 1)
          .map(([id]) => id)
          .sort();
        const found = r.conflicts.map((c) => `${c.entity} ${c.key}`).sort();
        assert.deepEqual(found, expected, `case ${i}: every disagreement is a reported conflict`);
        assert.equal(r.assertions.length, said.size, `case ${i}: one value per entity and key`);
        for (const a of r.assertions) {
          const values = said.get(`${a.entity} ${a.key}`)!;
          assert.ok(values.has(canon(a.value)), `case ${i}: a value some branch asserted`);
          assert.equal(a.conflict, values.size > 1);
        }
        conflicts += found.length;
      }
      assert.ok(conflicts > 40, `the cases disagree often enough to mean something (${conflicts})`);
    } finally {
      await f.close();
    }
  });

  it("refuses bad input with typed errors that name the field or the branch", async () => {
    const f = await open();
    try {
      const schema = z.array(z.object({ entity: z.string(), key: z.string(), value: z.string() }));
      const agent = f.agent("cr.bad", async (ctx) => {
        const good = [out({ "c:1": { plan: "pro" } })];
        const tries: [string, () => Promise<unknown>][] = [
          [
            "outputs",
            () => ctx.reconcile("x" as unknown as Output[], { assertions: facts, policy: "vote" }),
          ],
          ["assertions", () => ctx.reconcile(good, { policy: "vote" } as ReconcileOptions<Output>)],
          [
            "policy",
            () => ctx.reconcile(good, { assertions: facts, policy: "majority" as "vote" }),
          ],
          [
            "onTie",
            () => ctx.reconcile(good, { assertions: facts, policy: "escalate", onTie: "re-ask" }),
          ],
          ["reAsk", () => ctx.reconcile(good, { assertions: facts, policy: "re-ask" })],
          [
            "reAsk",
            () => ctx.reconcile(good, { assertions: facts, policy: "vote", onTie: "re-ask" }),
          ],
          [
            "pin",
            () => ctx.reconcile(good, { assertions: facts, policy: "prefer-pinned", pin: false }),
          ],
          [
            "branch 0",
            () =>
              ctx.reconcile(good, {
                assertions: () => {
                  throw new Error("no facts");
                },
                policy: "vote",
              }),
          ],
          [
            "branch 0",
            () => ctx.reconcile(good, { assertions: () => ({}) as Assertion[], policy: "vote" }),
          ],
          [
            "entity",
            () =>
              ctx.reconcile(good, {
                assertions: () => [{ key: "k", value: 1 }] as unknown as Assertion[],
                policy: "vote",
              }),
          ],
          [
            "value",
            () =>
              ctx.reconcile(good, {
                assertions: () => [{ entity: "e", key: "k" }] as unknown as Assertion[],
                policy: "vote",
              }),
          ],
          [
            "value",
            () =>
              ctx.reconcile(good, {
                assertions: () =>
                  [{ entity: "e", key: "k", value: undefined }] as unknown as Assertion[],
                policy: "vote",
              }),
          ],
          [
            "branch 1",
            () =>
              ctx.reconcile(
                [[{ entity: "e", key: "k", value: "v" }], [{ entity: "e", key: "k", value: 3 }]],
                { assertions: schema, policy: "vote" },
              ),
          ],
        ];
        const found: [string, string, string][] = [];
        for (const [what, t] of tries) {
          try {
            await t();
            found.push([what, "none", ""]);
          } catch (err) {
            found.push([what, codeOf(err), err instanceof Error ? err.message : ""]);
          }
        }
        const fine = await ctx.reconcile([[{ entity: "e", key: "k", value: "v" }]], {
          assertions: schema,
          policy: "vote",
        });
        return { found, fine: fine.assertions[0]?.value ?? null };
      });
      const { found, fine } = await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
      for (const [what, code, message] of found) {
        assert.equal(code, "FLOTILLA_INVALID_ARGUMENT", `${what}: ${message}`);
        assert.ok(message.includes(what), `the message names ${what}: ${message}`);
      }
      assert.equal(fine, "v", "a zod schema reads assertions too");
    } finally {
      await f.close();
    }
  });
});
