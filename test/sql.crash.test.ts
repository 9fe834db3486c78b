import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { postgresSkipReason } from "../bench/support/postgres.js";
import { exited, startProcess } from "../bench/support/processes.js";
import { createRng } from "../src/core/rng.js";
import { initial, items, itemStatements, itemsWorld } from "./helpers/sqlItems.js";

const SEED = Number(process.env.FLOTILLA_SEED ?? Math.floor(Math.random() * 2 ** 31));
process.stderr.write(`# rollback crash seed ${SEED} (replay with FLOTILLA_SEED=${SEED})\n`);

const ROLLBACKER = join(import.meta.dirname, "fixtures", "rollbackProcess.ts");
const KILLS = 5;
const pgSkip = await postgresSkipReason();

for (const engine of ["sqlite", "postgres"] as const) {
  describe(
    `rollback under SIGKILL on ${engine}`,
    { skip: engine === "postgres" ? pgSkip : undefined },
    () => {
      it("resumes where a killed rollback stopped: every row restored once, none taken for a change since", async () => {
        const rng = createRng(SEED + (engine === "postgres" ? 1 : 0));
        const w = await itemsWorld(engine);
        try {
          const db = w.tool("inv");
          await db.guard(["items"]);
          const s = itemStatements(w);
          const agent = w.f.agent("editor", async (ctx) => {
            for (let id = 1; id <= 10; id++) {
              await db.query(ctx, s.addQty, [100, id]);
              await db.query(ctx, s.rename, [`edited${id}`, id]);
            }
            for (let id = 11; id <= 20; id++) await db.query(ctx, s.insert, [id, `new${id}`, id]);
            for (let id = 2; id <= 10; id += 2) await db.query(ctx, s.remove, [id]);
            return "done";
          });
          const run = await w.f.start(agent, null);
          await run.result({ timeoutMs: 30_000 });
          let kills = 0;
          for (let k = 0; k < KILLS; k++) {
            // Killed after a few more batches, at once or a moment later: between or inside one.
            const after = rng.int(1, 6);
            const delayMs = rng.int(0, 8);
            let batches = 0;
            let finished = false;
            const child = await startProcess(ROLLBACKER, [w.journal, w.url, run.id], (line) => {
              if (line === "done") finished = true;
              if (!line.startsWith("batch ") || ++batches !== after) return;
              setTimeout(() => child.kill("SIGKILL"), delayMs);
            });
            await exited(child);
            if (finished) break;
            kills++;
          }
          assert.ok(kills > 0, `seed ${SEED}: no rollback was killed before it finished`);
          const report = await w.f.rollback(run.id, { store: w.url });
          assert.equal(report.complete, true, `seed ${SEED}: ${JSON.stringify(report.counts)}`);
          assert.deepEqual(
            report.conflicts,
            [],
            `seed ${SEED}: a restore was taken for a change since`,
          );
          assert.equal(report.counts.restored, report.counts.rowsWritten);
          assert.ok(
            report.counts.alreadyRestored > 0,
            `seed ${SEED}: the killed rollbacks restored nothing`,
          );
          assert.deepEqual(await items(w), initial(), `seed ${SEED}`);
        } finally {
          await w.done();
        }
      });
    },
  );
}
