import assert from "node:assert/strict";
import { test } from "node:test";
import { journalBench, journalReport } from "../bench/journal/index.js";
import { executionsOf } from "../bench/journal/replay.js";
import type { ConcurrentFigures } from "../bench/journal/steps.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import type { JournalEvent } from "../src/store/types.js";

const pgSkip = await postgresSkipReason();

function positive(value: unknown, what: string): number {
  assert.ok(
    typeof value === "number" && Number.isFinite(value) && value > 0,
    `${what}: ${String(value)}`,
  );
  return value;
}

/** A ratio is reported to four significant figures from figures reported the same way. */
function isRatio(ratio: number, value: number, baseline: number, what: string): void {
  assert.ok(
    Math.abs(ratio / (value / baseline) - 1) < 0.002,
    `${what}: ${ratio} ≠ ${value} / ${baseline}`,
  );
}

const STORE_CHECKS = {
  sqlite: ["sequential.ratio", "concurrent16.ratio", "sequential.effectMsPerStep / msPerStep"],
  postgres: [
    "sequential.ratio",
    "concurrent16.ratio",
    "concurrent64.ratio",
    "zeroStepRunMs.sameProcess / insertMs",
    "zeroStepRunMs.otherProcess / insertMs",
    "sequential.effectMsPerStep / msPerStep",
  ],
};

void test("the quick journal bench: every figure, each ratio over its own baseline, every target checked", async () => {
  const stores = pgSkip ? (["sqlite"] as const) : (["sqlite", "postgres"] as const);
  const out = await journalBench({
    quick: true,
    ...(pgSkip ? {} : { newDatabase: freshDatabase }),
  });
  assert.deepEqual(
    Object.keys(out).sort(),
    [...stores, "conversation", "replay", "checks", "machine", "warmup"].sort(),
  );
  assert.deepEqual(out.warmup, { steps: 10, runs: 3 });
  for (const kind of stores) {
    const s = out[kind];
    assert.ok(s, kind);
    assert.deepEqual(Object.keys(s), [
      "sequential",
      "concurrent16",
      "concurrent64",
      "zeroStepRunMs",
      "insertMs",
      "baseline",
    ]);
    assert.ok(s.baseline.length > 0);
    const seq = s.sequential;
    assert.deepEqual(Object.keys(seq), [
      "msPerStep",
      "insertMs",
      "ratio",
      "effectMsPerStep",
      "effectRatio",
      "keyedEffectMsPerStep",
      "keyedEffectRatio",
    ]);
    for (const [k, v] of Object.entries(seq)) positive(v, `${kind}.sequential.${k}`);
    isRatio(seq.ratio, seq.msPerStep, seq.insertMs, `${kind}.sequential.ratio`);
    isRatio(seq.effectRatio, seq.effectMsPerStep, seq.msPerStep, `${kind}.sequential.effectRatio`);
    isRatio(
      seq.keyedEffectRatio,
      seq.keyedEffectMsPerStep,
      seq.msPerStep,
      `${kind}.sequential.keyedEffectRatio`,
    );
    for (const k of ["concurrent16", "concurrent64"] as const) {
      const c: ConcurrentFigures = s[k];
      assert.deepEqual(Object.keys(c), [
        "stepsPerSec",
        "rawInsertsPerSec",
        "ratio",
        "effectStepsPerSec",
      ]);
      for (const [f, v] of Object.entries(c)) positive(v, `${kind}.${k}.${f}`);
      isRatio(c.ratio, c.stepsPerSec, c.rawInsertsPerSec, `${kind}.${k}.ratio`);
    }
    positive(s.zeroStepRunMs.sameProcess, `${kind}.zeroStepRunMs.sameProcess`);
    // Both stores take a client-only opener beside a worker in another process.
    positive(s.zeroStepRunMs.otherProcess, `${kind}.zeroStepRunMs.otherProcess`);
    positive(s.insertMs, `${kind}.insertMs`);
  }

  const c = out.conversation;
  assert.equal(c.turns, 100);
  for (const [k, v] of Object.entries(c)) positive(v, `conversation.${k}`);
  isRatio(c.ratio, c.storedBytes, c.uniqueBytes, "conversation.ratio");

  const r = out.replay;
  assert.equal(r.sequentialChildren, 20);
  assert.ok(Number.isInteger(r.parentExecutions) && r.parentExecutions >= 1, "parentExecutions");
  assert.ok(Number.isInteger(r.stepsReplayed) && r.stepsReplayed >= 0, "stepsReplayed");

  const expected = [
    ...stores.flatMap((kind) => STORE_CHECKS[kind].map((name) => `${kind}.${name}`)),
    "conversation.ratio",
    "conversation.msPerTurnLast100 / msPerTurnFirst100",
    "replay.parentExecutions",
    "replay.stepsReplayed",
  ];
  assert.deepEqual(out.checks.map((k) => k.name).sort(), expected.sort());
  for (const k of out.checks) {
    assert.equal(typeof k.ok, "boolean", k.name);
    const m = /^([≤≥]) (\d+(?:\.\d+)?)$/.exec(k.target);
    assert.ok(m, `${k.name} target ${k.target}`);
    const value = k.value;
    assert.ok(typeof value === "number" && Number.isFinite(value) && value >= 0, k.name);
    const limit = Number(m[2]);
    assert.equal(k.ok, m[1] === "≤" ? value <= limit : value >= limit, k.name);
  }

  assert.ok(Number.isInteger(out.machine.cpus) && out.machine.cpus >= 1);
  assert.ok(Number.isFinite(out.machine.loadAvg1m) && out.machine.loadAvg1m >= 0);
  assert.equal(out.machine.node, process.version);

  const readable = journalReport(out);
  for (const k of out.checks) assert.ok(readable.includes(k.name), `report lists ${k.name}`);
  assert.equal(
    readable.split("\n").filter((line) => line.startsWith("MISS ")).length,
    out.checks.filter((k) => !k.ok).length,
  );
});

void test("replay counts each execution of a run and the steps already done when it began", () => {
  let id = 0;
  const e = (type: string, step: string | null = null): JournalEvent => ({
    id: ++id,
    runId: "r",
    type,
    step,
    data: null,
    at: id,
  });
  const journal = [
    e("run.created"),
    e("run.resumed"), // nothing done yet
    e("child.spawned", "1"),
    e("step.completed", "0"),
    e("run.resumed"), // step 0 done; 1 spawned, not done
    e("step.completed", "1"),
    e("effect.intent", "2"),
    e("effect.committed", "2"),
    e("step.failed", "3"),
    e("run.resumed"), // 0, 1, 2, 3
    e("run.completed"),
  ];
  assert.deepEqual(executionsOf(journal.reverse()), { executions: 3, stepsReplayed: 5 });
});
