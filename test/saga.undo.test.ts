import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla, ToolRejectedError, type UndoReport } from "../src/index.js";
import { tempStore } from "./helpers/tempStore.js";

const open = (store = tempStore()) =>
  Flotilla.open({ store, worker: { pollMs: 10, concurrency: 4 }, stopGraceMs: 1_000 });

/** A little world: what each tool did and undid, in order. */
function world(f: Flotilla) {
  const log: string[] = [];
  const undoKeys: string[] = [];
  let refundFails = 0;
  const draft = f.tool("email.draft", {
    effect: "compensable",
    run: (a: { to: string }) => {
      log.push(`draft ${a.to}`);
      return Promise.resolve({ draftId: `d-${a.to}` });
    },
    compensate: (_a, r: { draftId: string }, c) => {
      undoKeys.push(c.idempotencyKey);
      log.push(`delete ${r.draftId}`);
      return Promise.resolve({ deleted: r.draftId });
    },
  });
  const charge = f.tool("card.charge", {
    effect: "compensable",
    undoSideEffect: "emails the customer a refund receipt",
    run: (a: { cents: number }) => {
      log.push(`charge ${a.cents}`);
      return Promise.resolve({ chargeId: `ch-${a.cents}` });
    },
    compensate: (_a, r: { chargeId: string }) => {
      if (refundFails > 0) {
        refundFails--;
        return Promise.reject(new ToolRejectedError("refunds are disabled", { retryable: false }));
      }
      log.push(`refund ${r.chargeId}`);
      return Promise.resolve({ refunded: r.chargeId });
    },
  });
  const send = f.tool("email.send", {
    effect: "irreversible",
    run: (a: { to: string }) => {
      log.push(`send ${a.to}`);
      return Promise.resolve("sent");
    },
  });
  const flaky = f.tool("crm.note", {
    effect: "irreversible",
    run: () => Promise.reject(new ToolRejectedError("crm refused", { retryable: false })),
  });
  return {
    log,
    undoKeys,
    tools: { draft, charge, send, flaky },
    failRefunds: (n: number) => (refundFails = n),
  };
}

const outcomeOf = (report: UndoReport, tool: string) =>
  report.effects.filter((e) => e.tool === tool).map((e) => e.outcome);

describe("undo", () => {
  it("compensates committed effects latest first, one honest outcome each, never twice", async () => {
    const f = await open();
    try {
      const w = world(f);
      const { draft, charge, send, flaky } = w.tools;
      const agent = f.agent("checkout", async (ctx) => {
        await ctx.call(draft, { to: "a" });
        await ctx.call(charge, { cents: 500 });
        await ctx.all([ctx.call(draft, { to: "b" }), ctx.call(send, { to: "a" })]);
        await ctx.call(flaky, null).catch(() => "ignored");
        return "done";
      });
      const run = await f.start(agent, null);
      assert.equal(await run.result({ timeoutMs: 10_000 }), "done");

      const plan = await run.undoPlan();
      assert.deepEqual(
        plan.effects
          .map((e) => [e.tool, e.action, e.wave])
          .sort((a, b) => Number(a[2]) - Number(b[2]) || String(a[0]).localeCompare(String(b[0]))),
        [
          ["email.draft", "compensate", 0],
          ["email.send", "not-reversible", 0],
          ["card.charge", "compensate", 1],
          ["email.draft", "compensate", 2],
        ],
      );
      assert.equal(w.log.length, 4, "planning does nothing");

      const report = await run.undo({ timeoutMs: 10_000 });
      assert.equal(report.complete, true);
      assert.deepEqual(outcomeOf(report, "email.draft"), ["undone", "undone"]);
      assert.deepEqual(outcomeOf(report, "card.charge"), ["undone-with-side-effect"]);
      assert.deepEqual(
        report.effects.find((e) => e.tool === "card.charge")?.sideEffect,
        "emails the customer a refund receipt",
      );
      assert.deepEqual(outcomeOf(report, "email.send"), ["not-reversible"]);
      assert.deepEqual(outcomeOf(report, "crm.note"), [], "a failed effect did nothing");
      assert.deepEqual(w.log.slice(4), ["delete d-b", "refund ch-500", "delete d-a"]);
      assert.ok(w.undoKeys.every((k) => k.startsWith("undo:")));

      const asked = (await f.store.readJournal(run.id)).filter(
        (e) => e.type === "run.undo-requested",
      );
      assert.deepEqual(
        asked.map((e) => e.data),
        [{ by: "operator", undoRunId: report.undoRunId }],
      );
      await assert.rejects(run.undo({ by: "" }), { code: "FLOTILLA_INVALID_ARGUMENT" });
      const again = await run.undo({ timeoutMs: 10_000, by: "ana" });
      assert.equal(again.undoRunId, report.undoRunId, "one undo run per run");
      assert.equal(w.log.length, 7, "undoing again repeats nothing");
    } finally {
      await f.close();
    }
  });

  it("an inverse that fails is reported and dead-lettered; undoing again retries only it", async () => {
    const f = await open();
    try {
      const w = world(f);
      const { draft, charge } = w.tools;
      const agent = f.agent("buy", async (ctx) => {
        await ctx.call(charge, { cents: 700 });
        await ctx.call(draft, { to: "c" });
      });
      const run = await f.start(agent, null);
      await run.result({ timeoutMs: 10_000 });
      w.failRefunds(1);
      const first = await run.undo({ timeoutMs: 10_000 });
      assert.equal(first.complete, false);
      const failed = first.effects.find((e) => e.tool === "card.charge");
      assert.equal(failed?.outcome, "compensation-failed");
      assert.match(failed?.error?.message ?? "", /refunds are disabled/);
      assert.equal(first.counts["compensation-failed"], 1);
      const [entry] = await f.listDeadLetters({ runId: first.undoRunId });
      assert.equal(entry?.class, "compensation-failed");

      const second = await run.undo({ timeoutMs: 10_000 });
      assert.equal(second.complete, true);
      assert.equal(second.undoRunId, first.undoRunId);
      assert.deepEqual(
        w.log.slice(2),
        ["delete d-c", "refund ch-700"],
        "the draft is deleted once",
      );
    } finally {
      await f.close();
    }
  });

  it("undoes a child's effects with its parent's, in the order they happened", async () => {
    const f = await open();
    try {
      const w = world(f);
      const { draft, charge } = w.tools;
      const child = f.agent("child", async (ctx) => ctx.call(draft, { to: "kid" }));
      const parent = f.agent("parent", async (ctx) => {
        await ctx.call(charge, { cents: 100 });
        await ctx.spawn(child, null);
        await ctx.call(draft, { to: "after" });
      });
      const run = await f.start(parent, null);
      await run.result({ timeoutMs: 10_000 });
      const report = await run.undo({ timeoutMs: 10_000 });
      assert.equal(report.complete, true);
      assert.equal(report.effects.length, 3);
      assert.deepEqual(w.log.slice(3), ["delete d-after", "delete d-kid", "refund ch-100"]);
      assert.ok(
        report.effects.some((e) => e.runId !== run.id),
        "the child's effect is listed",
      );
    } finally {
      await f.close();
    }
  });

  it("cancel with compensate stops the run, then undoes what it committed", async () => {
    const f = await open();
    try {
      const w = world(f);
      const { draft, charge } = w.tools;
      const agent = f.agent("slow-buyer", async (ctx) => {
        await ctx.call(charge, { cents: 900 });
        await ctx.call(draft, { to: "d" });
        await ctx.waitFor("never");
        await ctx.call(draft, { to: "never" });
      });
      const run = await f.start(agent, null);
      while (w.log.length < 2) await new Promise((r) => setTimeout(r, 10));
      const receipt = await run.cancel({ reason: "changed my mind", compensate: true });
      assert.equal((await run.status()).status, "cancelled");
      // The draft may still be settling when the cancel lands: in flight, then committed.
      const done = [
        ...receipt.committed,
        ...receipt.inFlight.filter((e) => e.settled === "committed"),
      ];
      assert.deepEqual(done.map((e) => e.tool).sort(), ["card.charge", "email.draft"]);
      assert.equal(receipt.undo?.complete, true);
      assert.deepEqual(w.log.slice(2), ["delete d-d", "refund ch-900"]);
      await assert.rejects(f.cancel(run.id, { compensate: "yes" as never }), {
        code: "FLOTILLA_INVALID_ARGUMENT",
      });
    } finally {
      await f.close();
    }
  });

  it(
    "cancel with compensate and a timeout gives up on the undo in that time, not undo's default",
    { timeout: 60_000 },
    async () => {
      // No worker here: the cancel takes effect at once, and the undo run never starts.
      const f = await Flotilla.open({ store: tempStore(), worker: false });
      try {
        const agent = f.agent("idle", () => Promise.resolve(null));
        const run = await f.start(agent, null);
        await assert.rejects(run.cancel({ compensate: true, timeoutMs: 500 }), {
          code: "FLOTILLA_TIMEOUT",
        });
        assert.equal((await run.status()).status, "cancelled");
      } finally {
        await f.close();
      }
    },
  );

  it("a worker stopped mid-undo: the next one resumes it, and the service sees each inverse once", async () => {
    const store = tempStore();
    const applied = new Map<string, number>();
    const calls: string[] = [];
    let hang = true;
    const define = (f: Flotilla) =>
      f.tool("doc.create", {
        effect: "compensable",
        run: (a: { name: string }) => Promise.resolve({ id: a.name }),
        compensate: (_a, r: { id: string }, c) => {
          calls.push(c.idempotencyKey);
          if (hang && r.id === "second")
            return new Promise((_, reject) =>
              c.signal.addEventListener("abort", () => reject(new Error("worker stopping"))),
            );
          // The service dedupes on the key, as the contract asks.
          applied.set(c.idempotencyKey, (applied.get(c.idempotencyKey) ?? 0) + 1);
          return Promise.resolve(null);
        },
      });
    const f1 = await open(store);
    let runId = "";
    try {
      const create = define(f1);
      const agent = f1.agent("writer", async (ctx) => {
        await ctx.call(create, { name: "first" });
        await ctx.call(create, { name: "second" });
      });
      const run = await f1.start(agent, null);
      runId = run.id;
      await run.result({ timeoutMs: 10_000 });
      void run.undo({ timeoutMs: 60_000 }).catch(() => undefined);
      while (calls.length < 1) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await f1.close();
    }
    hang = false;
    const f2 = await open(store);
    try {
      define(f2);
      f2.agent("writer", () => Promise.resolve());
      const report = await f2.undo(runId, { timeoutMs: 20_000 });
      assert.equal(report.complete, true);
      assert.deepEqual(
        report.effects.map((e) => e.outcome),
        ["undone", "undone"],
      );
      assert.equal(
        calls.filter((k) => k === calls[0]).length,
        2,
        "the cut inverse is called again",
      );
      assert.equal(new Set(calls.slice(1)).size, calls.length - 1);
      assert.deepEqual([...applied.values()], [1, 1], "each inverse took effect once");
    } finally {
      await f2.close();
    }
  });

  it("a lost answer then a final refusal: the idempotent step fails as maybe applied, the run goes on, undo says unsettled", async () => {
    const f = await open();
    try {
      let calls = 0;
      let inverseCalls = 0;
      const lost = () =>
        Object.assign(new TypeError("fetch failed"), { cause: { code: "UND_ERR_SOCKET" } });
      const final = () => new ToolRejectedError("quota exceeded", { retryable: false });
      const tag = f.tool("crm.tag", {
        effect: "idempotent",
        run: () => (++calls === 1 ? Promise.reject(lost()) : Promise.reject(final())),
      });
      const note = f.tool("crm.note", {
        effect: "compensable",
        run: () => Promise.resolve({ id: "n1" }),
        compensate: () => (++inverseCalls === 1 ? Promise.reject(lost()) : Promise.reject(final())),
      });
      const agent = f.agent("tagger", async (ctx) => {
        await ctx.call(note, null);
        const err = await ctx.call(tag, null).then(
          () => null,
          (e: { details?: Record<string, unknown> }) => e,
        );
        return err?.details?.mayHaveActed ?? "no flag";
      });
      const run = await f.start(agent, null);
      assert.equal(await run.result({ timeoutMs: 10_000 }), true, "the run was not parked");
      const plan = await run.undoPlan();
      assert.deepEqual(
        plan.effects.map((e) => [e.tool, e.action]),
        [
          ["crm.tag", "check-outcome"],
          ["crm.note", "compensate"],
        ],
      );
      const report = await run.undo({ timeoutMs: 10_000 });
      assert.equal(report.complete, false);
      assert.deepEqual(
        report.effects.map((e) => [e.tool, e.outcome]),
        [
          ["crm.tag", "unsettled"],
          ["crm.note", "unsettled"],
        ],
        "neither a lost tag nor an inverse whose answer was lost is called failed",
      );
    } finally {
      await f.close();
    }
  });

  it("refuses what cannot be undone with typed errors", async () => {
    const f = await open();
    try {
      await assert.rejects(f.undo("run_missing"), { code: "FLOTILLA_NOT_FOUND" });
      const waiter = f.agent("waiter", async (ctx) => ctx.waitFor("go"));
      const run = await f.start(waiter, null);
      await assert.rejects(run.undo(), {
        code: "FLOTILLA_INVALID_ARGUMENT",
        message: /cancel it first/,
      });
      await assert.rejects(run.undo({ timeoutMs: -1 }), { code: "FLOTILLA_INVALID_ARGUMENT" });
      await run.cancel();
      const report = await run.undo({ timeoutMs: 10_000 });
      assert.deepEqual(report.effects, []);
      await assert.rejects(f.undo(report.undoRunId), /is an undo/);
    } finally {
      await f.close();
    }
  });
});
