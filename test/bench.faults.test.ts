import assert from "node:assert/strict";
import { test } from "node:test";
import { faultsBench, SCENARIOS } from "../bench/faults/index.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";

/** Counters whose target is 0: nothing repeated, lost, failed by the infrastructure or unaccounted for. */
const TARGETS = [
  "duplicateEffects",
  "blindReexecutions",
  "runsLost",
  "failedByInfrastructure",
  "crossRunFailures",
  "phantoms",
  "missingEffects",
] as const;

const COUNTERS = ["runs", "completed", "parked", "failed", ...TARGETS, "injected"] as const;

const pgSkip = await postgresSkipReason();

void test("every fault, on each store: nothing repeated, lost, failed by the infrastructure or unaccounted for", async () => {
  // A seed the suite has run green; FLOTILLA_SEED=<n> explores others (the bench's own runs are random).
  const seed = Number(process.env.FLOTILLA_SEED ?? 985628037);
  process.stderr.write(`# bench faults seed ${seed} (replay with FLOTILLA_SEED=${seed})\n`);
  const out = await faultsBench({
    seed,
    quick: true,
    ...(pgSkip ? { stores: ["sqlite"] as const } : { newDatabase: freshDatabase }),
  });
  assert.equal(out.seed, seed);
  const scenarios = out.scenarios as Record<string, unknown>[];
  const expected = SCENARIOS.flatMap((s) =>
    s.stores.filter((store) => !pgSkip || store === "sqlite").map((store) => `${s.fault}/${store}`),
  );
  assert.deepEqual(
    scenarios.map((s) => `${String(s.fault)}/${String(s.store)}`).sort(),
    expected.sort(),
  );
  // A scenario that needs initdb says `skipped` where PostgreSQL's binaries are missing (never in CI).
  const ran = scenarios.filter((s) => s.skipped === undefined);
  const totals = out.totals as Record<string, unknown>;
  for (const key of COUNTERS) {
    let sum = 0;
    for (const s of ran) {
      assert.equal(s.error, undefined, `${String(s.fault)}: ${String(s.error)}`);
      assert.ok(
        Number.isInteger(s[key]) && (s[key] as number) >= 0,
        `${key} in ${String(s.fault)}`,
      );
      sum += s[key] as number;
    }
    assert.equal(totals[key], sum, `totals.${key}`);
  }
  for (const s of ran) {
    const n = (k: (typeof COUNTERS)[number]) => s[k] as number;
    assert.ok(n("runs") > 0 && n("injected") > 0, `${String(s.fault)} ran no faults`);
    // Every started run is counted once: finished one way, or lost.
    assert.equal(n("completed") + n("parked") + n("failed") + n("runsLost"), n("runs"));
    for (const target of TARGETS)
      assert.equal(
        n(target),
        0,
        `${target} in ${String(s.fault)} (seed ${seed}): ${JSON.stringify(s.anomalies ?? [])}`,
      );
  }
});
