import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rollbackBench, type EngineFigures } from "../bench/rollback/index.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";

const pgSkip = await postgresSkipReason();

/** A seed the suite has run green; FLOTILLA_SEED=<n> explores others (the bench's own runs are random). */
const seed = Number(process.env.FLOTILLA_SEED ?? 7);

describe("bench rollback (quick)", () => {
  it("blocks every destructive statement, overwrites no hand edit, and leaves the table as if no agent ran", async () => {
    process.stderr.write(`# bench rollback seed ${seed} (replay with FLOTILLA_SEED=${seed})\n`);
    const db = pgSkip ? undefined : await freshDatabase();
    try {
      const out = await rollbackBench({
        seed,
        quick: true,
        ...(db ? { postgresUrl: db.url } : {}),
      });
      for (const engine of db ? ["postgres", "sqlite"] : ["sqlite"]) {
        const f = out[engine] as EngineFigures;
        const at = `seed ${seed}, ${engine}`;
        assert.ok(f.destructiveAttempted > 0, `${at}: no destructive statement was tried`);
        assert.equal(f.destructiveBlocked, f.destructiveAttempted, at);
        assert.ok(
          f.humanEdits > 0 && f.conflictsReported > 0,
          `${at}: no hand edit met an agent's row`,
        );
        assert.equal(f.rowsRestored, f.rowsWrittenByAgents - f.conflictsReported, at);
        assert.equal(f.humanEditsOverwritten, 0, at);
        assert.equal(f.tableDiffAfterRollback, 0, at);
        assert.ok(
          f.naiveRollback.humanEditsOverwritten > 0,
          `${at}: the baseline is scored on the same table`,
        );
      }
    } finally {
      await db?.drop();
    }
  });
});
