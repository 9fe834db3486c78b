import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crashBench } from "../bench/crash/index.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";

const skip = await postgresSkipReason();

describe("crash recovery under SIGKILL", () => {
  it("completes or parks every run with no duplicate effect, no blind re-execution, no replay mismatch", async () => {
    const seed = Number(process.env.FLOTILLA_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`# crash harness seed ${seed} (replay with FLOTILLA_SEED=${seed})`);
    const db = skip ? undefined : await freshDatabase();
    try {
      const r = (await crashBench({
        seed,
        kills: { sqlite: 5, postgres: 8 },
        ...(db ? { postgresUrl: db.url } : {}),
      })) as Record<string, number>;
      assert.ok((r.kills ?? 0) >= (db ? 13 : 5), `only ${r.kills} kills`);
      assert.equal(
        (r.completed ?? 0) + (r.parked ?? 0),
        r.runs,
        `seed ${seed}: some runs neither completed nor parked`,
      );
      assert.equal(r.duplicateEffects, 0, `seed ${seed}`);
      assert.equal(r.blindReexecutions, 0, `seed ${seed}`);
      assert.equal(r.replayMismatches, 0, `seed ${seed}`);
      assert.equal(
        r.unknownSurfaced,
        r.parked,
        `seed ${seed}: every parked run surfaces one unknown effect`,
      );
    } finally {
      await db?.drop();
    }
  });
});
