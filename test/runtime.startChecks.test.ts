import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
import { Flotilla } from "../src/index.js";
import { workerWait } from "../src/operator/workerWait.js";
import { cli } from "./helpers/cli.js";
import { tempStore } from "./helpers/tempStore.js";

const double = (_ctx: unknown, n: number) => Promise.resolve(n * 2);

describe("dead ends at start", () => {
  it("says when no live worker defines a run's agent, keeps result() waiting, and runs it once a worker comes", async () => {
    const path = tempStore();
    const client = await Flotilla.open({ store: path, worker: false });
    try {
      const agent = client.agent("lonely", double);
      const run = await client.start(agent, 21);
      const pending = await run.status();
      assert.equal(pending.status, "pending");
      const wait = workerWait(pending, await client.store.liveWorkerAgents());
      assert.equal(
        wait?.message,
        "waiting for a worker with agent 'lonely': no live worker defines it",
      );
      await assert.rejects(run.result({ timeoutMs: 100 }), (err) =>
        isFlotillaError(err, "FLOTILLA_TIMEOUT"),
      );

      const show = cli("show", run.id, "--store", path);
      assert.equal(show.code, 0, show.stderr);
      assert.match(
        show.stdout,
        /waiting for a worker with agent 'lonely': no live worker defines it/,
      );
      const runs = cli("runs", "--store", path, "--json");
      assert.equal(runs.code, 0, runs.stderr);
      const listed = JSON.parse(runs.stdout) as { waitingForWorkers: { runId: string }[] };
      assert.deepEqual(
        listed.waitingForWorkers.map((w) => w.runId),
        [run.id],
      );

      const worker = await Flotilla.open({ store: path, worker: { pollMs: 20 } });
      try {
        worker.agent("lonely", double);
        await worker.worker();
        // The worker announced itself: the run no longer waits for one that is not there.
        assert.equal(workerWait(pending, await client.store.liveWorkerAgents()), null);
        assert.equal(await run.result({ timeoutMs: 10_000 }), 42);
      } finally {
        await worker.close();
      }
    } finally {
      await client.close();
    }
  });

  it("returns the key's run for the same input and refuses another input or another agent", async () => {
    const f = await Flotilla.open({ store: tempStore(), worker: false });
    try {
      const a = f.agent("keyed", double);
      const b = f.agent("other", double);
      const first = await f.start(a, 1, { idempotencyKey: "order-1" });
      const again = await f.start(a, 1, { idempotencyKey: "order-1" });
      assert.equal(again.id, first.id);
      await assert.rejects(
        f.start(a, 2, { idempotencyKey: "order-1" }),
        (err) =>
          isFlotillaError(err, "FLOTILLA_IDEMPOTENCY_CONFLICT") &&
          err.details.runId === first.id &&
          /different input/.test(err.message),
      );
      await assert.rejects(
        f.start(b, 1, { idempotencyKey: "order-1" }),
        (err) =>
          isFlotillaError(err, "FLOTILLA_IDEMPOTENCY_CONFLICT") &&
          /not to agent 'other'/.test(err.message),
      );
      assert.equal((await f.store.listRuns()).length, 1);
    } finally {
      await f.close();
    }
  });
});
