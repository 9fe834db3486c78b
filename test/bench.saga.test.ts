import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cancelBench } from "../bench/cancel/index.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { undoBench } from "../bench/undo/index.js";

const pgSkip = await postgresSkipReason();

/** A seed the suite has run green; FLOTILLA_SEED=<n> explores others (the benches' own runs are random). */
const seedOf = (name: string, green: number): number => {
  const seed = Number(process.env.FLOTILLA_SEED ?? green);
  process.stderr.write(`# bench ${name} seed ${seed} (replay with FLOTILLA_SEED=${seed})\n`);
  return seed;
};

describe("sagas under faults (the benches, quick)", () => {
  it("undo: with tool errors and workers killed mid-undo, every effect gets one true outcome, none twice", async () => {
    const seed = seedOf("undo", 1226757136);
    const out = (await undoBench({ seed, quick: true })) as {
      flotilla: Record<string, unknown>;
      naive: Record<string, unknown>;
    };
    const f = out.flotilla;
    assert.equal(f.silentFailures, 0, `seed ${seed}`);
    assert.equal(f.compensationsDuplicated, 0, `seed ${seed}`);
    assert.equal(f.reportMatchesWorld, true, `seed ${seed}: ${JSON.stringify(f.mismatchExamples)}`);
    assert.equal(f.undoErrors, 0, `seed ${seed}`);
    assert.ok(Number(f.crashesInjected) > 0, `seed ${seed}: no worker was killed`);
    assert.ok(Number(out.naive.silentFailures) > 0, "the naive loop is scored on the same world");
  });

  it("cancel: no effect after the stop, every effect in a receipt, every receipt true", async () => {
    const seed = seedOf("cancel", 1489210484);
    const db = pgSkip ? undefined : await freshDatabase();
    try {
      const out = await cancelBench({ seed, quick: true, ...(db ? { postgresUrl: db.url } : {}) });
      for (const key of ["effectsAfterStop", "effectsNotInReceipt", "receiptStateWrong"])
        assert.equal(out[key], 0, `seed ${seed}: ${key}`);
      assert.ok(Number(out.cancels) > 0);
    } finally {
      await db?.drop();
    }
  });
});
