import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RecordingToolService } from "../bench/crash/toolService.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { kill, startProcess } from "../bench/support/processes.js";
import { createRng, type Rng } from "../src/core/rng.js";
import { Flotilla } from "../src/index.js";
import { tempStore } from "./helpers/tempStore.js";

const SEED = Number(process.env.FLOTILLA_SEED ?? Math.floor(Math.random() * 2 ** 31));
process.stderr.write(`# undo crash seed ${SEED} (replay with FLOTILLA_SEED=${SEED})\n`);

const WORKER = join(import.meta.dirname, "fixtures", "undoWorker.ts");
const RUNS = 8;
const UNITS = 3;
const KILLS = 4;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Undoes finished runs while their worker is SIGKILLed with inverses in
 * flight, a new worker taking over each time. Returns how many kills landed
 * while an inverse request of the killed worker was at the service.
 */
async function undoUnderKills(store: string, rng: Rng): Promise<number> {
  const service = new RecordingToolService();
  const url = await service.start();
  const client = await Flotilla.open({ store, worker: false });
  let worker: ChildProcess = await startProcess(WORKER, [store, url]);
  let landed = 0;
  try {
    const writer = client.agent("writer", (_ctx, _units: string[]) => Promise.resolve());
    const runs = await Promise.all(
      Array.from({ length: RUNS }, (_, r) =>
        client.start(
          writer,
          Array.from({ length: UNITS }, (_, u) => `doc-${r}-${u}`),
        ),
      ),
    );
    await Promise.all(runs.map((run) => run.result({ timeoutMs: 60_000 })));
    const undos = runs.map((run) => client.undo(run.id, { timeoutMs: 120_000 }));
    const settled = Promise.allSettled(undos);
    for (let k = 0; k < KILLS; k++) {
      // Kill while one of this worker's inverses is at the service: before or after it acted.
      const pid = worker.pid;
      const until = Date.now() + 10_000;
      while (service.pending(pid) === 0 && Date.now() < until) await pause(1);
      if (service.pending(pid) === 0) break; // the undos are over
      await pause(rng.int(0, 20));
      if (service.pending(pid) > 0) landed++;
      await kill(worker);
      worker = await startProcess(WORKER, [store, url]);
    }
    const reports = await settled;
    for (const r of reports) {
      assert.equal(
        r.status,
        "fulfilled",
        `seed ${SEED}: ${String((r as { reason?: unknown }).reason)}`,
      );
      if (r.status !== "fulfilled") continue;
      assert.equal(r.value.complete, true, `seed ${SEED}: ${JSON.stringify(r.value)}`);
      assert.deepEqual(
        r.value.effects.map((e) => e.outcome),
        Array.from({ length: UNITS }, () => "undone"),
      );
    }
    // Seen from the world: every document made once, and deleted once.
    const units = (tool: string) =>
      service.performed
        .filter((p) => p.tool === tool)
        .map((p) => p.unit)
        .sort();
    assert.equal(units("doc.create").length, RUNS * UNITS);
    assert.deepEqual(units("doc.delete"), units("doc.create"), `seed ${SEED}`);
    return landed;
  } finally {
    await kill(worker);
    await client.close();
    await service.close();
  }
}

const pgSkip = await postgresSkipReason();

describe("undo under SIGKILL", () => {
  it("SQLite: every committed effect is undone once, whatever the kills cut", async () => {
    const landed = await undoUnderKills(tempStore(), createRng(SEED));
    console.log(`# SQLite: ${landed} of ${KILLS} kills landed with an inverse in flight`);
    assert.ok(landed > 0, `seed ${SEED}: no kill landed with an inverse in flight`);
  });

  it(
    "PostgreSQL: every committed effect is undone once, whatever the kills cut",
    { skip: pgSkip ?? false },
    async () => {
      const db = await freshDatabase();
      try {
        const landed = await undoUnderKills(db.url, createRng(SEED + 1));
        console.log(`# PostgreSQL: ${landed} of ${KILLS} kills landed with an inverse in flight`);
        assert.ok(landed > 0, `seed ${SEED}: no kill landed with an inverse in flight`);
      } finally {
        await db.drop();
      }
    },
  );
});
