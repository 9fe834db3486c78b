import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isFlotillaError } from "../../src/core/errors.js";
import { newRunId } from "../../src/core/ids.js";
import { sha256 } from "../../src/core/json.js";
import type { Store } from "../../src/store/types.js";
import { budgetConformance } from "./budgetConformance.js";
import { effectKeyConformance } from "./effectKeyConformance.js";
import { notifyConformance } from "./notifyConformance.js";
import { claimOne, type StoreFactory } from "./storeSuite.js";
import { storeRaces } from "./storeRaces.js";
import { versionConformance } from "./versionConformance.js";

export type { StoreFactory } from "./storeSuite.js";

/** The behaviour every Store adapter must have; run against SQLite and PostgreSQL. */
export function storeConformance(
  name: string,
  factory: () => Promise<StoreFactory>,
  options: { skip?: string } = {},
): void {
  describe(`Store conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let f: StoreFactory;
    let store: Store;
    before(async () => {
      f = await factory();
      store = await f.open();
    });
    after(async () => {
      await store.close();
      await f.destroy();
    });

    versionConformance(() => store);
    storeRaces(() => ({ store, f }));
    budgetConformance(() => ({ store, f }));
    effectKeyConformance(() => ({ store, f }));
    notifyConformance(() => ({ store, f }));

    it("creates runs once per idempotency key and journals their creation", async () => {
      const key = `k-${newRunId()}`;
      const a = await store.createRun({
        id: newRunId(),
        agent: "a",
        input: { x: 1 },
        idempotencyKey: key,
      });
      const b = await store.createRun({
        id: newRunId(),
        agent: "a",
        input: { x: 1 },
        idempotencyKey: key,
      });
      assert.equal(a.created, true);
      assert.equal(b.created, false);
      assert.equal(b.run.id, a.run.id);
      assert.deepEqual(b.run.input, { x: 1 });
      const journal = await store.readJournal(a.run.id);
      assert.deepEqual(
        journal.map((e) => e.type),
        ["run.created"],
      );
      assert.equal((await store.getRun(a.run.id))?.status, "pending");
    });

    it("claims a run for one worker only, and again once its lease expires", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "claim", input: null });
      const first = await claimOne(store, "claim", 1);
      assert.equal(first.id, run.id);
      assert.equal(first.status, "running");
      await new Promise((r) => setTimeout(r, 20));
      const second = await claimOne(store, "claim", 30_000);
      assert.equal(second.id, run.id);
      assert.notEqual(second.leaseToken, first.leaseToken);
      const none = await store.claimRuns({
        workerId: "w2",
        agents: ["claim"],
        limit: 5,
        leaseMs: 1000,
      });
      assert.equal(none.length, 0);
      await assert.rejects(
        store.commit({
          runId: run.id,
          fence: { leaseToken: first.leaseToken },
          events: [{ type: "x", data: 1 }],
        }),
        (err) => isFlotillaError(err, "FLOTILLA_LEASE_LOST"),
      );
      assert.ok(!(await store.readJournal(run.id)).some((e) => e.type === "x"));
      await assert.rejects(
        store.commit({
          runId: "run_missing",
          fence: { leaseToken: first.leaseToken },
          events: [{ type: "x", data: 1 }],
        }),
        (err) => isFlotillaError(err, "FLOTILLA_NOT_FOUND"),
      );
      const renewal = await store.renewLeases(
        "w1",
        [
          { runId: run.id, leaseToken: first.leaseToken },
          { runId: run.id, leaseToken: second.leaseToken },
        ],
        30_000,
      );
      assert.deepEqual(renewal.lost, [run.id]);
    });

    it("only claims runs of the agents the worker knows", async () => {
      await store.createRun({ id: newRunId(), agent: "only-b", input: null });
      const got = await store.claimRuns({
        workerId: "w",
        agents: ["nope"],
        limit: 10,
        leaseMs: 1000,
      });
      assert.equal(got.filter((r) => r.agent === "only-b").length, 0);
    });

    it("applies many concurrent commits durably and in order per run", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "gc", input: null });
      const claimed = await claimOne(store, "gc");
      const n = 200;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.commit({
            runId: run.id,
            fence: { leaseToken: claimed.leaseToken },
            events: [{ type: "step.completed", step: String(i), data: { i } }],
          }),
        ),
      );
      const journal = await store.readJournal(run.id);
      const steps = journal.filter((e) => e.type === "step.completed").map((e) => e.step);
      assert.deepEqual(
        steps,
        Array.from({ length: n }, (_, i) => String(i)),
      );
    });

    it("rejects one commit of a batch whose fence fails without failing the others", async () => {
      const { run: r1 } = await store.createRun({ id: newRunId(), agent: "fence", input: null });
      const { run: r2 } = await store.createRun({ id: newRunId(), agent: "fence", input: null });
      const claimed = await store.claimRuns({
        workerId: "w",
        agents: ["fence"],
        limit: 2,
        leaseMs: 30_000,
      });
      const token = claimed[0]?.leaseToken ?? "";
      const results = await Promise.allSettled([
        store.commit({
          runId: r1.id,
          fence: { leaseToken: token },
          events: [{ type: "ok", data: null }],
        }),
        store.commit({
          runId: r2.id,
          fence: { leaseToken: "stale" },
          events: [{ type: "bad", data: null }],
        }),
      ]);
      assert.equal(results[0]?.status, "fulfilled");
      assert.equal(results[1]?.status, "rejected");
      assert.deepEqual(
        (await store.readJournal(r2.id)).map((e) => e.type),
        ["run.created"],
      );
    });

    it("does not lose a wake-up that arrives while the run is executing", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "wake", input: null });
      const claimed = await claimOne(store, "wake");
      await store.sendSignal(run.id, "approve", { ok: true });
      await store.commit({
        runId: run.id,
        fence: { leaseToken: claimed.leaseToken },
        events: [{ type: "run.suspended", data: null }],
        status: { status: "waiting", wakeAt: null },
        release: true,
      });
      assert.equal((await store.getRun(run.id))?.status, "pending");
      const signals = await store.readSignals(run.id);
      assert.deepEqual(
        signals.map((s) => [s.name, s.payload]),
        [["approve", { ok: true }]],
      );
    });

    it("refuses a signal no run will read: to a missing run or one that has ended", async () => {
      await assert.rejects(store.sendSignal("run_missing", "go", null), {
        code: "FLOTILLA_NOT_FOUND",
      });
      const { run } = await store.createRun({ id: newRunId(), agent: "ended", input: null });
      const claimed = await claimOne(store, "ended");
      await store.commit({
        runId: run.id,
        fence: { leaseToken: claimed.leaseToken },
        events: [],
        status: { status: "completed", result: 1 },
        release: true,
      });
      await assert.rejects(store.sendSignal(run.id, "go", null), {
        code: "FLOTILLA_INVALID_ARGUMENT",
        message: /completed: it will never read a signal/,
      });
      assert.deepEqual(await store.readSignals(run.id), []);
    });

    it("wakes waiting runs whose timer is due, and reports the next wake-up", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "timer", input: null });
      const claimed = await claimOne(store, "timer");
      const wakeAt = Date.now() + 150;
      await store.commit({
        runId: run.id,
        fence: { leaseToken: claimed.leaseToken },
        events: [],
        status: { status: "waiting", wakeAt },
        release: true,
      });
      const next = await store.nextWakeAt();
      assert.ok(next !== null && next <= wakeAt);
      assert.equal(
        (await store.claimRuns({ workerId: "w", agents: ["timer"], limit: 1, leaseMs: 1000 }))
          .length,
        0,
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await claimOne(store, "timer")).id, run.id);
    });

    it("refuses effect intents after a cancel request and journals the request", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "cancel", input: null });
      const claimed = await claimOne(store, "cancel");
      const cancelled: string[] = [];
      const off = store.onCancel((id) => cancelled.push(id));
      await store.requestCancel(run.id, "user pressed stop");
      await assert.rejects(
        store.commit({
          runId: run.id,
          fence: { leaseToken: claimed.leaseToken, requireNotCancelled: true },
          events: [{ type: "effect.intent", step: "1", data: {} }],
        }),
        (err) => isFlotillaError(err, "FLOTILLA_CANCELLED"),
      );
      const renewal = await store.renewLeases(
        "w1",
        [{ runId: run.id, leaseToken: claimed.leaseToken }],
        1000,
      );
      assert.deepEqual(renewal.cancelRequested, [run.id]);
      const types = (await store.readJournal(run.id)).map((e) => e.type);
      assert.deepEqual(types, ["run.created", "run.cancel-requested"]);
      await new Promise((r) => setTimeout(r, 300));
      off();
      assert.ok(cancelled.includes(run.id));
    });

    it("lets an operator write only while no worker holds the run", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "op", input: null });
      await claimOne(store, "op");
      const operator = {
        runId: run.id,
        fence: { unleasedIn: ["pending", "waiting", "parked", "running"] as const },
        events: [{ type: "run.cancelled", data: null }],
        status: { status: "cancelled" as const },
      };
      await assert.rejects(store.commit(operator), (err) =>
        isFlotillaError(err, "FLOTILLA_LEASE_LOST"),
      );
      const { run: idle } = await store.createRun({
        id: newRunId(),
        agent: "op-idle",
        input: null,
      });
      await store.commit({ ...operator, runId: idle.id });
      assert.equal((await store.getRun(idle.id))?.status, "cancelled");
    });

    it("creates a run leased to the creating worker, journaled as resumed and claimable by no one else", async () => {
      const made = await store.createRun(
        { id: newRunId(), agent: "local", input: { x: 1 }, idempotencyKey: `local-${newRunId()}` },
        { workerId: "w-local", leaseMs: 30_000 },
      );
      assert.ok(made.created && made.claimed);
      const { run, journal } = made.claimed;
      assert.equal(run.status, "running");
      assert.equal(run.leaseOwner, "w-local");
      assert.deepEqual(
        journal.map((e) => e.type),
        ["run.created", "run.resumed"],
      );
      assert.deepEqual(await store.readJournal(run.id), journal);
      const others = await store.claimRuns({
        workerId: "w-other",
        agents: ["local"],
        limit: 5,
        leaseMs: 30_000,
      });
      assert.deepEqual(others, []);
      await store.commit({
        runId: run.id,
        fence: { leaseToken: run.leaseToken },
        events: [{ type: "run.completed", data: null }],
        status: { status: "completed", result: 1 },
        release: true,
      });
      assert.equal((await store.getRun(run.id))?.status, "completed");
      // The key's run exists: a second create finds it and claims nothing.
      const again = await store.createRun(
        {
          id: newRunId(),
          agent: "local",
          input: { x: 1 },
          idempotencyKey: made.run.idempotencyKey ?? "",
        },
        { workerId: "w-local", leaseMs: 30_000 },
      );
      assert.equal(again.created, false);
      assert.equal(again.claimed, undefined);
      assert.equal(again.run.id, run.id);
    });

    it("stores payloads once per content hash", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "blob", input: null });
      const claimed = await claimOne(store, "blob");
      const data = Buffer.from(`payload ${run.id}`);
      const hash = sha256(data);
      const before = await store.storedBytes();
      for (let i = 0; i < 3; i++) {
        await store.commit({
          runId: run.id,
          fence: { leaseToken: claimed.leaseToken },
          events: [],
          blobs: [{ hash, data }],
        });
      }
      const afterBytes = await store.storedBytes();
      assert.ok(afterBytes.blobs - before.blobs < 2 * (data.length + hash.length) + 64);
      const got = await store.getBlobs([hash, sha256("missing")]);
      assert.deepEqual([...got.keys()], [hash.toString("hex")]);
      assert.equal(got.get(hash.toString("hex"))?.toString(), data.toString());
    });

    it("creates child runs with their parent's commit and wakes the parent", async () => {
      const { run: parent } = await store.createRun({
        id: newRunId(),
        agent: "parent",
        input: null,
      });
      const claimed = await claimOne(store, "parent");
      const childId = newRunId();
      await store.commit({
        runId: parent.id,
        fence: { leaseToken: claimed.leaseToken },
        events: [{ type: "child.spawned", step: "1", data: { childId } }],
        newRuns: [{ id: childId, agent: "child", input: 5, parentId: parent.id }],
        status: { status: "waiting", wakeAt: null },
        release: true,
      });
      assert.equal((await store.getRun(parent.id))?.status, "waiting");
      assert.equal((await store.listRuns({ parentId: parent.id }))[0]?.id, childId);
      const child = await claimOne(store, "child");
      await store.commit({
        runId: childId,
        fence: { leaseToken: child.leaseToken },
        events: [{ type: "run.completed", data: { result: 10 } }],
        status: { status: "completed", result: 10 },
        release: true,
        wake: [parent.id],
      });
      assert.equal((await store.getRun(parent.id))?.status, "pending");
      assert.equal((await store.getRun(childId))?.result, 10);
    });

    it("records a dead letter with the run's final commit, lists it by class and closes it", async () => {
      const { run } = await store.createRun({ id: newRunId(), agent: "dlq", input: { q: 1 } });
      const claimed = await claimOne(store, "dlq");
      const id = `dl-${run.id}`;
      const error = { name: "LoopDetectedError", code: "FLOTILLA_LOOP_DETECTED", message: "loop" };
      await store.commit({
        runId: run.id,
        fence: { leaseToken: claimed.leaseToken },
        events: [{ type: "run.dead-lettered", data: { class: "loop-detected" } }],
        status: { status: "dead-lettered", error },
        release: true,
        deadLetter: {
          id,
          runId: run.id,
          rootId: run.id,
          agent: "dlq",
          tenant: null,
          class: "loop-detected",
          error,
          context: {
            input: { q: 1 },
            checkpoint: null,
            partialResults: [],
            attempts: [],
            cost: { usd: 0.5, inputTokens: 1, outputTokens: 2, llmCalls: 1 },
            effects: [],
            steps: 3,
          },
        },
      });
      assert.equal((await store.getRun(run.id))?.status, "dead-lettered");
      const listed = await store.listDeadLetters({ class: "loop-detected", status: "open" });
      assert.ok(listed.some((d) => d.id === id));
      const entry = await store.getDeadLetter(id);
      assert.equal(entry?.context.cost.usd, 0.5);
      assert.deepEqual(entry?.error, error);
      assert.equal(
        (await store.listDeadLetters({ class: "no-progress", runId: run.id })).length,
        0,
      );
      await store.commit({
        runId: run.id,
        fence: { unleasedIn: ["dead-lettered"] },
        events: [{ type: "dead-letter.discarded", data: { reason: "test" } }],
        deadLetterUpdate: { id, status: "discarded", resolution: { reason: "test" } },
      });
      const closed = await store.getDeadLetter(id);
      assert.equal(closed?.status, "discarded");
      assert.deepEqual(closed?.resolution, { reason: "test" });
      assert.equal(await store.getDeadLetter("missing"), undefined);
    });
  });
}
