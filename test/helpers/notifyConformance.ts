import assert from "node:assert/strict";
import { it } from "node:test";
import { newRunId } from "../../src/core/ids.js";
import { claimOne, pause, type Suite } from "./storeSuite.js";

/**
 * What a store tells its handles: runs that settled, runs made runnable,
 * through this handle or another. Part of the store conformance suite, run
 * on every adapter.
 */
export function notifyConformance(suite: Suite): void {
  it("announces a run that settles to the handle that committed it", async () => {
    const { store } = suite();
    const { run } = await store.createRun({ id: newRunId(), agent: "settle", input: null });
    const claimed = await claimOne(store, "settle");
    const heard: string[] = [];
    const off = store.onSettled((id) => id && heard.push(id));
    try {
      await store.commit({
        runId: run.id,
        fence: { leaseToken: claimed.leaseToken },
        events: [{ type: "run.parked", data: null }],
        status: { status: "parked" },
        release: true,
      });
      for (let i = 0; i < 100 && !heard.includes(run.id); i++) await pause(20);
      // Earlier tests' settlements may be announced late; this run's must be, once.
      assert.equal(heard.filter((id) => id === run.id).length, 1);
    } finally {
      off();
    }
  });

  it("tells a handle about runs made runnable or settled through another handle", async () => {
    const { store, f } = suite();
    const other = await f.open();
    const runnable: number[] = [];
    const settled: (string | undefined)[] = [];
    const offRunnable = store.onRunnable(() => runnable.push(1));
    const offSettled = store.onSettled((id) => settled.push(id));
    try {
      const { run } = await other.createRun({ id: newRunId(), agent: "far", input: null });
      for (let i = 0; i < 100 && runnable.length === 0; i++) await pause(20);
      assert.ok(runnable.length > 0, "a run created through another handle was not announced");
      const [claimed] = await other.claimRuns({
        workerId: "w-far",
        agents: ["far"],
        limit: 1,
        leaseMs: 30_000,
      });
      settled.length = 0;
      await other.commit({
        runId: run.id,
        fence: { leaseToken: claimed?.leaseToken ?? "" },
        events: [{ type: "run.completed", data: null }],
        status: { status: "completed", result: null },
        release: true,
      });
      // PostgreSQL names the run; SQLite can only say that runs may have settled.
      const heard = () => settled.includes(run.id) || settled.includes(undefined);
      for (let i = 0; i < 100 && !heard(); i++) await pause(20);
      assert.ok(heard(), "a run settled through another handle was not announced");
    } finally {
      offRunnable();
      offSettled();
      await other.close();
    }
  });
}
