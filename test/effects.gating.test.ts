import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import {
  Flotilla,
  isFlotillaError,
  ToolRejectedError,
  type FlotillaOptions,
  type JournalEvent,
} from "../src/index.js";
import { defineTool } from "../src/effects/Tool.js";
import { deferredNotAttempted } from "../src/saga/receipt.js";
import { cli } from "./helpers/cli.js";
import { tempStore } from "./helpers/tempStore.js";

const pgSkip = await postgresSkipReason();

function open(store: string, options: Partial<FlotillaOptions> = {}): Promise<Flotilla> {
  return Flotilla.open({
    store,
    worker: { pollMs: 20, leaseMs: 2000 },
    stopGraceMs: 500,
    // Waits suspend at once unless a test says otherwise: a suspended wait is the durable case.
    inlineWaitMs: 0,
    ...options,
  });
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function ofType(journal: readonly JournalEvent[], type: string): JournalEvent[] {
  return journal.filter((e) => e.type === type);
}

/** Resolves once `f`'s run has journaled an event of `type` (n of them). */
function journaled(f: Flotilla, runId: string, type: string, n = 1): Promise<void> {
  return until(`run ${runId} journals ${n} ${type}`, async () => {
    return ofType(await f.store.readJournal(runId), type).length >= n;
  });
}

describe("approval: true", () => {
  it("waits for one approve:<tool> signal per call, in order, before each effect", async () => {
    const f = await open(tempStore());
    try {
      const wired: number[] = [];
      const wire = f.tool("ap.ok.wire", {
        effect: "irreversible",
        approval: true,
        run: async (a: { n: number }) => {
          wired.push(a.n);
          return `wired ${a.n}`;
        },
      });
      const agent = f.agent("ap.ok.agent", async (ctx) => [
        await ctx.call(wire, { n: 1 }),
        await ctx.call(wire, { n: 2 }),
      ]);
      const run = await f.start(agent, null);
      await journaled(f, run.id, "run.suspended");
      assert.deepEqual(wired, [], "nothing is wired before an approval");
      const journal = await f.store.readJournal(run.id);
      assert.deepEqual(
        ofType(journal, "approval.requested").map((e) => e.data),
        [{ kind: "signal", name: "approve:ap.ok.wire", tool: "ap.ok.wire", args: { n: 1 } }],
        "the request names the signal and what is to be approved",
      );
      assert.equal(ofType(journal, "effect.intent").length, 0);
      assert.equal((await run.status()).status, "waiting");
      await run.signal("approve:ap.ok.wire", { approved: true, reason: "checked" });
      await journaled(f, run.id, "approval.requested", 2);
      assert.deepEqual(wired, [1], "one signal approves one call");
      await run.signal("approve:ap.ok.wire", { approved: true });
      assert.deepEqual(await run.result({ timeoutMs: 20_000 }), ["wired 1", "wired 2"]);
      assert.deepEqual(wired, [1, 2]);
    } finally {
      await f.close();
    }
  });

  it("a denial fails the call with ApprovalDeniedError and journals no intent", async () => {
    const f = await open(tempStore());
    try {
      let wired = 0;
      const wire = f.tool("ap.no.wire", {
        effect: "irreversible",
        approval: true,
        run: async () => ++wired,
      });
      const agent = f.agent("ap.no.agent", async (ctx) => {
        try {
          await ctx.call(wire, { amount: 10_000 });
          return "wired";
        } catch (err) {
          if (!isFlotillaError(err, "FLOTILLA_APPROVAL_DENIED")) throw err;
          return { code: err.code, details: err.details, message: err.message };
        }
      });
      const run = await f.start(agent, null);
      await journaled(f, run.id, "approval.requested");
      await run.signal("approve:ap.no.wire", { approved: false, reason: "over the limit" });
      const out = (await run.result({ timeoutMs: 20_000 })) as {
        code: string;
        details: Record<string, unknown>;
        message: string;
      };
      assert.equal(out.code, "FLOTILLA_APPROVAL_DENIED");
      assert.equal(out.details.tool, "ap.no.wire");
      assert.equal(out.details.reason, "over the limit");
      assert.match(out.message, /ap\.no\.wire.*over the limit/);
      assert.equal(wired, 0);
      const journal = await f.store.readJournal(run.id);
      assert.equal(ofType(journal, "effect.intent").length, 0, "no intent for a denied effect");
    } finally {
      await f.close();
    }
  });

  it("a malformed approval is a typed error the agent sees, saying what was wrong", async () => {
    const f = await open(tempStore());
    try {
      let wired = 0;
      const wire = f.tool("ap.bad.wire", {
        effect: "irreversible",
        approval: true,
        run: async () => ++wired,
      });
      const agent = f.agent("ap.bad.agent", async (ctx) => {
        const seen: unknown[] = [];
        for (;;) {
          try {
            return { seen, value: await ctx.call(wire, null) };
          } catch (err) {
            if (!isFlotillaError(err)) throw err;
            seen.push([err.code, err.message]);
          }
        }
      });
      const run = await f.start(agent, null);
      await journaled(f, run.id, "approval.requested");
      await run.signal("approve:ap.bad.wire", { approved: "yes" });
      await journaled(f, run.id, "approval.requested", 2);
      await run.signal("approve:ap.bad.wire", "ok");
      await journaled(f, run.id, "approval.requested", 3);
      assert.equal(wired, 0, "a malformed decision approves nothing");
      await run.signal("approve:ap.bad.wire", { approved: true });
      const out = (await run.result({ timeoutMs: 20_000 })) as {
        seen: [string, string][];
        value: number;
      };
      assert.equal(out.value, 1);
      assert.equal(wired, 1);
      assert.deepEqual(
        out.seen.map(([code]) => code),
        ["FLOTILLA_INVALID_ARGUMENT", "FLOTILLA_INVALID_ARGUMENT"],
      );
      assert.match(out.seen[0]?.[1] ?? "", /approved: .*boolean.*received \{"approved":"yes"\}/);
      assert.match(
        out.seen[1]?.[1] ?? "",
        /received "ok".*\{ approved: boolean, reason\?: string \}/,
      );
    } finally {
      await f.close();
    }
  });

  it("concurrent approvals decided in any order replay onto the same steps", async () => {
    const where = tempStore();
    const calls: string[] = [];
    const define = (f: Flotilla) => {
      const tool = (name: string) =>
        f.tool(`ap.par.${name}`, {
          effect: "irreversible",
          approval: true,
          run: async () => {
            calls.push(name);
            return name;
          },
        });
      const [a, b] = [tool("a"), tool("b")];
      return f.agent("ap.par.agent", async (ctx) => {
        const both = await ctx.all([ctx.call(a, null), ctx.call(b, null)]);
        await ctx.waitFor("next");
        return both;
      });
    };
    const first = await open(where);
    let runId: string;
    try {
      const run = await first.start(define(first), null);
      runId = run.id;
      await journaled(first, run.id, "approval.requested", 2);
      // Decided in the other order than asked: b's effect is journaled first.
      await run.signal("approve:ap.par.b", { approved: true });
      await journaled(first, run.id, "effect.committed");
      await run.signal("approve:ap.par.a", { approved: true });
      await journaled(first, run.id, "effect.committed", 2);
      await until("the run waits for next", async () => (await run.status()).status === "waiting");
    } finally {
      await first.close();
    }
    const second = await open(where);
    try {
      define(second);
      await second.worker();
      await second.signal(runId, "next");
      assert.deepEqual(await second.handle(runId).result({ timeoutMs: 20_000 }), ["a", "b"]);
      assert.deepEqual(calls, ["b", "a"]);
    } finally {
      await second.close();
    }
  });

  for (const held of [false, true]) {
    it(`a cancel while waiting for approval (${held ? "held in memory" : "suspended"}) reports the effect not started`, async () => {
      const f = await open(tempStore(), { inlineWaitMs: held ? 600_000 : 0 });
      try {
        let wired = 0;
        const name = `ap.cancel${held ? "h" : "s"}`;
        const wire = f.tool(`${name}.wire`, {
          effect: "irreversible",
          approval: true,
          run: async () => ++wired,
        });
        const agent = f.agent(`${name}.agent`, async (ctx) => ctx.call(wire, null));
        const run = await f.start(agent, null);
        await journaled(f, run.id, "approval.requested");
        if (!held) await journaled(f, run.id, "run.suspended");
        const receipt = await run.cancel("changed my mind");
        assert.deepEqual(receipt.notStarted, [
          { step: "0", tool: `${name}.wire`, waitingFor: `approve:${name}.wire` },
        ]);
        assert.deepEqual(receipt.committed, []);
        assert.deepEqual(receipt.inFlight, []);
        assert.equal((await run.status()).status, "cancelled");
        // An approval that comes too late is refused: nothing would ever read it.
        await assert.rejects(run.signal(`approve:${name}.wire`, { approved: true }), {
          code: "FLOTILLA_INVALID_ARGUMENT",
        });
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(wired, 0);
      } finally {
        await f.close();
      }
    });
  }

  it("flotilla show says which approval a run waits for", async () => {
    const store = tempStore();
    const f = await open(store);
    let runId: string;
    try {
      const wire = f.tool("ap.show.wire", {
        effect: "irreversible",
        approval: true,
        run: async () => "done",
      });
      const agent = f.agent("ap.show.agent", async (ctx) => ctx.call(wire, { to: "acme" }));
      const run = await f.start(agent, null);
      runId = run.id;
      await journaled(f, run.id, "run.suspended");
    } finally {
      await f.close();
    }
    const r = cli("show", runId, "--store", store);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /approval\.requested\s+ap\.show\.wire waits for signal approve:ap\.show\.wire, args \{"to":"acme"\}/,
    );
    assert.match(
      r.stdout,
      /waiting for approval of ap\.show\.wire \(signal approve:ap\.show\.wire\)/,
    );
  });
});

describe('defer: "end-of-run"', () => {
  it("performs deferred effects only after the agent returned, in call order, then completes", async () => {
    const f = await open(tempStore());
    try {
      const log: string[] = [];
      const charge = f.tool("df.ok.charge", {
        effect: "compensable",
        run: async () => {
          log.push("charge");
          return "ch_1";
        },
        compensate: async () => undefined,
      });
      const ship = f.tool("df.ok.ship", {
        effect: "irreversible",
        defer: "end-of-run",
        run: async (a: { order: number }) => {
          log.push(`ship ${a.order}`);
          return "shipped";
        },
      });
      const email = f.tool("df.ok.email", {
        effect: "idempotent",
        defer: "end-of-run",
        key: (a: { to: string }) => `receipt:${a.to}`,
        run: async (a: { to: string }, { idempotencyKey }) => {
          log.push(`email ${a.to} ${idempotencyKey}`);
          return "sent";
        },
      });
      const agent = f.agent("df.ok.agent", async (ctx) => {
        const deferred = await ctx.call(ship, { order: 7 });
        log.push(`ship resolved to ${String(deferred)}`);
        await ctx.call(charge, null);
        await ctx.call(email, { to: "ann" });
        log.push("agent returns");
        return "ok";
      });
      const run = await f.start(agent, null);
      assert.equal(await run.result({ timeoutMs: 20_000 }), "ok");
      assert.deepEqual(log, [
        "ship resolved to undefined",
        "charge",
        "agent returns",
        "ship 7",
        "email ann receipt:ann",
      ]);
      const journal = await f.store.readJournal(run.id);
      const steps = journal.filter((e) => e.step).map((e) => `${e.step} ${e.type}`);
      assert.deepEqual(steps, [
        "0 step.completed",
        "1 effect.intent",
        "1 effect.committed",
        "2 step.completed",
        "0.effect effect.intent",
        "0.effect effect.committed",
        "2.effect effect.intent",
        "2.effect effect.committed",
      ]);
      assert.deepEqual(journal[2]?.data, {
        kind: "tool",
        name: "df.ok.ship",
        deferred: true,
        args: { order: 7 },
        value: null,
      });
      assert.equal(journal.at(-1)?.type, "run.completed");
    } finally {
      await f.close();
    }
  });

  it("never performs a deferred effect when the agent throws", async () => {
    const store = tempStore();
    const f = await open(store);
    let runId: string;
    try {
      let shipped = 0;
      const ship = f.tool("df.throw.ship", {
        effect: "irreversible",
        defer: "end-of-run",
        run: async () => ++shipped,
      });
      const agent = f.agent("df.throw.agent", async (ctx) => {
        await ctx.call(ship, { order: 1 });
        throw new Error("out of stock");
      });
      const run = await f.start(agent, null);
      runId = run.id;
      await assert.rejects(run.result({ timeoutMs: 20_000 }), /out of stock/);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(shipped, 0);
      assert.equal(ofType(await f.store.readJournal(run.id), "effect.intent").length, 0);
    } finally {
      await f.close();
    }
    const r = cli("show", runId, "--store", store);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /df\.throw\.ship deferred to the end of the run, args \{"order":1\}/);
    assert.match(r.stdout, /deferred effects never attempted: df\.throw\.ship@0/);
  });

  it("never performs a deferred effect of a cancelled run; the receipt lists it as never attempted", async () => {
    const f = await open(tempStore());
    try {
      let shipped = 0;
      const ship = f.tool("df.cancel.ship", {
        effect: "irreversible",
        defer: "end-of-run",
        run: async () => ++shipped,
      });
      const agent = f.agent("df.cancel.agent", async (ctx) => {
        await ctx.call(ship, { order: 1 });
        await ctx.waitFor("go");
        return "done";
      });
      const run = await f.start(agent, null);
      await journaled(f, run.id, "run.suspended");
      const receipt = await run.cancel("customer cancelled");
      assert.deepEqual(receipt.deferred, [{ step: "0", tool: "df.cancel.ship" }]);
      assert.deepEqual(receipt.notStarted, []);
      await assert.rejects(run.signal("go"), { code: "FLOTILLA_INVALID_ARGUMENT" });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(shipped, 0);
      assert.equal((await run.status()).status, "cancelled");
    } finally {
      await f.close();
    }
  });

  it("a cancel during the deferred phase stops it: the rest is never attempted", async () => {
    const f = await open(tempStore());
    try {
      const calls: string[] = [];
      let inFirst!: () => void;
      const reachedFirst = new Promise<void>((r) => (inFirst = r));
      const first = f.tool("df.stop.first", {
        effect: "idempotent",
        defer: "end-of-run",
        run: (_a: null, { signal }) => {
          calls.push("first");
          inFirst();
          // Too far along to stop: it finishes after the cancel came.
          return new Promise<string>((resolve) =>
            signal.addEventListener("abort", () => resolve("sent anyway")),
          );
        },
      });
      const second = f.tool("df.stop.second", {
        effect: "irreversible",
        defer: "end-of-run",
        run: async () => calls.push("second"),
      });
      const agent = f.agent("df.stop.agent", async (ctx) => {
        await ctx.call(first, null);
        await ctx.call(second, null);
        return "ok";
      });
      const run = await f.start(agent, null);
      await reachedFirst;
      const receipt = await run.cancel("stop");
      assert.deepEqual(
        receipt.inFlight.map((e) => [e.tool, e.step, e.settled]),
        [["df.stop.first", "0.effect", "committed"]],
      );
      assert.deepEqual(receipt.deferred, [{ step: "1", tool: "df.stop.second" }]);
      assert.deepEqual(receipt.notStarted, []);
      assert.deepEqual(calls, ["first"]);
    } finally {
      await f.close();
    }
  });

  it("a failing deferred effect fails the run; the effects after it are never attempted", async () => {
    const f = await open(tempStore());
    try {
      const log: string[] = [];
      const charge = f.tool("df.fail.charge", {
        effect: "compensable",
        run: async () => {
          log.push("charge");
          return "ch_1";
        },
        compensate: async () => undefined,
      });
      const ship = f.tool("df.fail.ship", {
        effect: "irreversible",
        defer: "end-of-run",
        run: async (): Promise<string> => {
          log.push("ship refused");
          throw new ToolRejectedError("carrier refused the parcel", { retryable: false });
        },
      });
      const email = f.tool("df.fail.email", {
        effect: "idempotent",
        defer: "end-of-run",
        run: async () => log.push("email"),
      });
      const agent = f.agent("df.fail.agent", async (ctx) => {
        await ctx.call(ship, null);
        await ctx.call(charge, null);
        await ctx.call(email, null);
        return "ok";
      });
      const run = await f.start(agent, null);
      await assert.rejects(run.result({ timeoutMs: 20_000 }), /carrier refused the parcel/);
      const status = await run.status();
      assert.equal(status.status, "failed");
      assert.equal(status.error?.code, "FLOTILLA_TOOL_REJECTED");
      assert.deepEqual(log, ["charge", "ship refused"]);
      assert.deepEqual(deferredNotAttempted(await f.store.readJournal(run.id)), [
        { step: "2", tool: "df.fail.email" },
      ]);
    } finally {
      await f.close();
    }
  });

  it("asks a deferred tool's approval at the end of the run, just before its effect", async () => {
    const f = await open(tempStore());
    try {
      const log: string[] = [];
      const wire = f.tool("df.ap.wire", {
        effect: "irreversible",
        defer: "end-of-run",
        approval: true,
        run: async () => {
          log.push("wire");
          return "wired";
        },
      });
      const agent = f.agent("df.ap.agent", async (ctx) => {
        await ctx.call(wire, { amount: 5 });
        log.push("agent returns");
        return "ok";
      });
      const run = await f.start(agent, null);
      await journaled(f, run.id, "run.suspended");
      assert.deepEqual(log, ["agent returns"]);
      const request = ofType(await f.store.readJournal(run.id), "approval.requested");
      assert.deepEqual(
        request.map((e) => [e.step, (e.data as { args: unknown }).args]),
        [["0.approve", { amount: 5 }]],
      );
      await run.signal("approve:df.ap.wire", { approved: true });
      assert.equal(await run.result({ timeoutMs: 20_000 }), "ok");
      assert.deepEqual(
        log.filter((l) => l === "wire"),
        ["wire"],
      );
    } finally {
      await f.close();
    }
  });

  it("an irreversible deferred effect whose outcome is lost parks the run; resolved, the phase resumes without repeating a committed effect", async () => {
    const f = await open(tempStore());
    try {
      const calls: string[] = [];
      let lost = true;
      const first = f.tool("df.park.first", {
        effect: "irreversible",
        defer: "end-of-run",
        run: async () => {
          calls.push("first");
          return 1;
        },
      });
      const second = f.tool("df.park.second", {
        effect: "irreversible",
        defer: "end-of-run",
        run: async () => {
          calls.push("second");
          if (lost) {
            lost = false;
            // Not a refusal: the request may have left, so its outcome is unknown.
            throw new Error("connection reset");
          }
          return 2;
        },
      });
      const agent = f.agent("df.park.agent", async (ctx) => {
        await ctx.call(first, null);
        await ctx.call(second, null);
        return "ok";
      });
      const run = await f.start(agent, null);
      await until("the run parks", async () => (await run.status()).status === "parked");
      assert.deepEqual(calls, ["first", "second"]);
      await f.resolveEffect(run.id, "1.effect", { outcome: "retry" });
      assert.equal(await run.result({ timeoutMs: 20_000 }), "ok");
      assert.deepEqual(calls, ["first", "second", "second"]);
    } finally {
      await f.close();
    }
  });

  it("refuses bad gating specs with typed errors naming the field", () => {
    const run = async () => null;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ effect: "read", defer: "end-of-run" }, "defer", /read tool and cannot have defer/],
      [{ effect: "read", approval: true }, "approval", /read tool and cannot have approval/],
      [
        { effect: "irreversible", defer: "later" },
        "tool 'bad.tool'.defer",
        /defer.*received "later"/,
      ],
      [
        { effect: "irreversible", approval: "yes" },
        "tool 'bad.tool'.approval",
        /approval.*received "yes"/,
      ],
    ];
    for (const [spec, field, message] of cases) {
      assert.throws(
        () => defineTool("bad.tool", { run, ...spec } as never),
        (err) =>
          isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") &&
          err.details.field === field &&
          message.test(err.message),
        JSON.stringify(spec),
      );
    }
    // Allowed: a read without gating, and gating on every kind that changes the world.
    for (const effect of ["idempotent", "irreversible"] as const)
      defineTool(`ok.${effect}`, { effect, run, approval: true, defer: "end-of-run" });
    defineTool("ok.approval.off", { effect: "read", run, approval: false });
  });
});

/** The crash and restart cases, on every store. */
function restartSuite(kind: string, store: () => string): void {
  it(`${kind}: an approval consumed before a restart is not asked for again`, async () => {
    const where = store();
    let wired = 0;
    const define = (f: Flotilla) => {
      const wire = f.tool(`${kind}.rs.wire`, {
        effect: "irreversible",
        approval: true,
        run: async () => ++wired,
      });
      return f.agent(`${kind}.rs.agent`, async (ctx) => {
        const n = await ctx.call(wire, null);
        await ctx.waitFor("next");
        return n;
      });
    };
    const first = await open(where);
    let runId: string;
    try {
      const run = await first.start(define(first), null);
      runId = run.id;
      await journaled(first, run.id, "approval.requested");
      await run.signal(`approve:${kind}.rs.wire`, { approved: true });
      await journaled(first, run.id, "run.suspended", 2);
    } finally {
      await first.close();
    }
    const second = await open(where);
    try {
      define(second);
      await second.worker();
      await second.signal(runId, "next");
      assert.equal(await second.handle(runId).result({ timeoutMs: 20_000 }), 1);
      assert.equal(wired, 1);
      const journal = await second.store.readJournal(runId);
      assert.equal(ofType(journal, "approval.requested").length, 1);
      assert.ok(ofType(journal, "run.resumed").length >= 2, "the run was replayed");
    } finally {
      await second.close();
    }
  });

  it(`${kind}: a Flotilla closed in the middle of the deferred phase resumes it without repeating a committed effect`, async () => {
    const where = store();
    const calls: string[] = [];
    let inSecond!: () => void;
    const reachedSecond = new Promise<void>((r) => (inSecond = r));
    let hang = true;
    const define = (f: Flotilla) => {
      const first = f.tool(`${kind}.mid.first`, {
        effect: "irreversible",
        defer: "end-of-run",
        run: async () => {
          calls.push("first");
          return 1;
        },
      });
      const second = f.tool(`${kind}.mid.second`, {
        effect: "idempotent",
        defer: "end-of-run",
        run: async (_a: null, { idempotencyKey, signal }) => {
          calls.push(`second ${idempotencyKey}`);
          if (!hang) return 2;
          inSecond();
          // The worker dies with the call in flight: it never answers.
          return new Promise<number>((_, reject) =>
            signal.addEventListener("abort", () => reject(new Error("worker gone"))),
          );
        },
      });
      return f.agent(`${kind}.mid.agent`, async (ctx) => {
        await ctx.call(first, null);
        await ctx.call(second, null);
        return "ok";
      });
    };
    const a = await open(where);
    let runId: string;
    try {
      const run = await a.start(define(a), null);
      runId = run.id;
      await reachedSecond;
      await (await a.worker()).stop(0);
    } finally {
      await a.close();
    }
    hang = false;
    const b = await open(where);
    try {
      define(b);
      await b.worker();
      assert.equal(await b.handle(runId).result({ timeoutMs: 20_000 }), "ok");
      assert.deepEqual(calls, ["first", `second ${runId}:1.effect`, `second ${runId}:1.effect`]);
      const journal = await b.store.readJournal(runId);
      assert.deepEqual(
        ofType(journal, "effect.committed").map((e) => e.step),
        ["0.effect", "1.effect"],
      );
    } finally {
      await b.close();
    }
  });
}

describe("gating across restarts", () => {
  restartSuite("sqlite", tempStore);
});

describe("gating across restarts on PostgreSQL", { skip: pgSkip }, () => {
  let db: { url: string; drop: () => Promise<void> } | undefined;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  restartSuite("pg", () => db!.url);
});
