import assert from "node:assert/strict";
import { it } from "node:test";
import { newRunId } from "../../src/core/ids.js";
import { claimOne, type Suite } from "./storeSuite.js";

/**
 * Effect keys: registered for one unit of work, updated only from there,
 * scoped by tool, freed when their holder definitely failed. Part of the
 * store conformance suite, run on every adapter.
 */
export function effectKeyConformance(suite: Suite): void {
  it("registers an effect key for one unit of work and updates it only from there", async () => {
    const { store } = suite();
    const key = `refund:${newRunId()}`;
    const { run } = await store.createRun({ id: newRunId(), agent: "fx", input: null });
    const claimed = await claimOne(store, "fx");
    const mine = await store.claimEffectKey({
      key,
      runId: run.id,
      step: "3",
      tool: "refund",
      argsHash: "h",
    });
    assert.deepEqual([mine.runId, mine.step, mine.state], [run.id, "3", "intent"]);
    const other = await store.claimEffectKey({
      key,
      runId: "someone-else",
      step: "1",
      tool: "refund",
      argsHash: "h",
    });
    assert.equal(other.runId, run.id);
    await store.commit({
      runId: run.id,
      fence: { leaseToken: claimed.leaseToken },
      events: [],
      effects: [
        { key, runId: "someone-else", step: "1", tool: "refund", state: "committed", result: 1 },
      ],
    });
    assert.equal((await store.getEffect("refund", key))?.state, "intent");
    await store.commit({
      runId: run.id,
      fence: { leaseToken: claimed.leaseToken },
      events: [],
      effects: [
        { key, runId: run.id, step: "3", tool: "refund", state: "committed", result: { id: 7 } },
      ],
    });
    const done = await store.getEffect("refund", key);
    assert.deepEqual([done?.state, done?.result], ["committed", { id: 7 }]);
  });

  it("applies a commit that updates one effect key twice, in order", async () => {
    const { store } = suite();
    const key = `twice:${newRunId()}`;
    const { run } = await store.createRun({ id: newRunId(), agent: "fx2", input: null });
    const claimed = await claimOne(store, "fx2");
    const unit = { key, runId: run.id, step: "1", tool: "refund" };
    await store.claimEffectKey({ ...unit, argsHash: "h" });
    await store.commit({
      runId: run.id,
      fence: { leaseToken: claimed.leaseToken },
      events: [],
      effects: [
        { ...unit, state: "intent" },
        { ...unit, state: "committed", result: { id: 9 } },
      ],
    });
    const done = await store.getEffect("refund", key);
    assert.deepEqual([done?.state, done?.result], ["committed", { id: 9 }]);
  });

  it("scopes effect keys by tool, and frees a key whose holder definitely failed", async () => {
    const { store } = suite();
    const key = `order:${newRunId()}`;
    const { run } = await store.createRun({ id: newRunId(), agent: "fx3", input: null });
    const claimed = await claimOne(store, "fx3");
    const charge = { key, runId: run.id, step: "1", tool: "payments.charge", argsHash: "a" };
    const ship = { key, runId: run.id, step: "2", tool: "shipping.create", argsHash: "b" };
    assert.equal((await store.claimEffectKey(charge)).step, "1");
    assert.equal((await store.claimEffectKey(ship)).step, "2", "another tool's key is its own");
    const { argsHash: _a, ...unit } = charge;
    await store.commit({
      runId: run.id,
      fence: { leaseToken: claimed.leaseToken },
      events: [],
      effects: [{ ...unit, state: "failed" }],
    });
    const next = await store.claimEffectKey({ ...charge, runId: "later-run", argsHash: "c" });
    assert.deepEqual(
      [next.runId, next.state, next.argsHash],
      ["later-run", "intent", "c"],
      "a definitely failed holder gives the key up",
    );
    const held = await store.claimEffectKey({ ...ship, runId: "later-run" });
    assert.equal(held.runId, run.id, "a holder still in intent keeps the key");
  });
}
