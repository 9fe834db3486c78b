import { table } from "../../src/cli/output.js";
import type { JournalBenchResult } from "./index.js";
import type { StoreFigures } from "./storeFigures.js";
import { figure } from "./stats.js";

/** The bench's result as the CLI holds it: a PostgreSQL it could not reach is `skipped`. */
export type JournalReport = Omit<JournalBenchResult, "postgres"> & {
  postgres?: StoreFigures | { skipped: string };
};

const show = (x: number | null) => (x === null ? "n/a" : String(x));
const times = (x: number | null, baseline: number) =>
  x === null ? "n/a" : `${figure(x / baseline)}×`;

function storeTable(title: string, s: StoreFigures): string {
  const zero = s.zeroStepRunMs;
  const rows = [
    [title, "Flotilla", "raw INSERTs", "ratio"],
    [
      "one run, ms per step",
      show(s.sequential.msPerStep),
      show(s.sequential.insertMs),
      `${s.sequential.ratio}×`,
    ],
    [
      "  idempotent tool",
      show(s.sequential.effectMsPerStep),
      "",
      `${s.sequential.effectRatio}× read`,
    ],
    [
      "  idempotent tool, own key",
      show(s.sequential.keyedEffectMsPerStep),
      "",
      `${s.sequential.keyedEffectRatio}× read`,
    ],
  ];
  for (const k of [16, 64] as const) {
    const c = k === 16 ? s.concurrent16 : s.concurrent64;
    rows.push(
      [`${k} runs at once, steps/s`, show(c.stepsPerSec), show(c.rawInsertsPerSec), `${c.ratio}×`],
      ["  idempotent tool", show(c.effectStepsPerSec), "", ""],
    );
  }
  rows.push(
    [
      "zero-step run, ms (worker here)",
      show(zero.sameProcess),
      show(s.insertMs),
      times(zero.sameProcess, s.insertMs),
    ],
    [
      "zero-step run, ms (worker elsewhere)",
      show(zero.otherProcess),
      show(s.insertMs),
      times(zero.otherProcess, s.insertMs),
    ],
  );
  return `${table(rows)}\nbaseline: ${s.baseline}`;
}

/** The readable form of `flotilla bench journal`: a table per store, then every target, misses marked. */
export function journalReport(r: JournalReport): string {
  const m = r.machine;
  const parts = [
    `journal bench: ${m.cpus} CPUs, load ${m.loadAvg1m.toFixed(2)}, Node ${m.node}; ` +
      `untimed warm-up: ${r.warmup.steps} steps of each kind, ${r.warmup.runs} runs`,
  ];
  if (r.postgres && "skipped" in r.postgres)
    parts.push(`PostgreSQL skipped: ${r.postgres.skipped}`);
  else if (r.postgres) parts.push(storeTable("PostgreSQL", r.postgres));
  parts.push(storeTable("SQLite", r.sqlite));
  const c = r.conversation;
  parts.push(
    [
      `conversation (SQLite), ${c.turns} turns resending their history:`,
      `  stored ${c.storedBytes} bytes for ${c.uniqueBytes} unique (${c.ratio}×);`,
      `  ms per turn ${c.msPerTurnFirst100} over the first 100, ${c.msPerTurnLast100} over the last 100`,
    ].join("\n"),
  );
  const p = r.replay;
  parts.push(
    `replay (SQLite), a parent awaiting ${p.sequentialChildren} children one after another:\n` +
      `  parent executions ${p.parentExecutions}, steps replayed ${p.stepsReplayed}`,
  );
  parts.push(
    table([
      ["", "target", "value", "check"],
      ...r.checks.map((k) => [k.ok ? "ok" : "MISS", k.target, show(k.value), k.name]),
    ]),
  );
  return parts.join("\n\n");
}
