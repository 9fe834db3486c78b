import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isFlotillaError } from "../../src/core/errors.js";
import type { Rng } from "../../src/core/rng.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import type { UndoReport } from "../../src/saga/undoTypes.js";
import { crashLoop, kill, script, startProcess } from "./crashLoop.js";
import type { ForwardRun } from "./forward.js";
import type { NaiveReport } from "./naive.js";

/** How the harness crashes a column's processes: the same for both columns. */
export interface Crashes {
  rng: Rng;
  lifetimeMs: { min: number; max: number };
  maxKills: number;
}

export interface ColumnRun<R> {
  reports: Map<string, R>;
  /** Runs whose undo ended without a report (an error instead), with that error. */
  errors: Map<string, string>;
  crashes: number;
  wallMs: number;
}

/** Runs the column's undo processes concurrently with this many undos in flight, like a worker. */
const CONCURRENCY = 8;

/**
 * The naive script, one process at a time, SIGKILLed at random moments; as
 * an operator would, the harness runs it again on the runs it had not
 * reported undone, each from the top.
 */
export async function naiveColumn(
  toolsUrl: string,
  runs: readonly ForwardRun[],
  dir: string,
  crashes: Crashes,
  onDone: (done: number) => void,
): Promise<ColumnRun<NaiveReport>> {
  const started = performance.now();
  const reports = new Map<string, NaiveReport>();
  const file = join(dir, "naive-runs.json");
  const kills = await crashLoop({
    ...crashes,
    settled: () => reports.size === runs.length,
    start: () => {
      writeFileSync(file, JSON.stringify(runs.filter((r) => !reports.has(r.runId))));
      return startProcess(script("naiveProcess"), [toolsUrl, file, String(CONCURRENCY)], (line) => {
        const report = JSON.parse(line) as NaiveReport;
        reports.set(report.runId, report);
        onDone(reports.size);
      });
    },
  });
  return { reports, errors: new Map(), crashes: kills, wallMs: performance.now() - started };
}

/**
 * Flotilla's undo of every run, asked by this process (which executes
 * nothing) and performed by worker processes defining the tools, one at a
 * time, each SIGKILLed at a random moment and replaced until every undo has
 * reported or raised. Each run is asked once: `flotilla.undo` returns the
 * report of an undo left incomplete too.
 */
export async function flotillaColumn(
  store: string,
  toolsUrl: string,
  runs: readonly ForwardRun[],
  crashes: Crashes,
  leaseMs: number,
  onDone: (done: number) => void,
): Promise<ColumnRun<UndoReport>> {
  const started = performance.now();
  const client = await Flotilla.open({ store, worker: false });
  try {
    let settled = 0;
    const asking = askUndo(client, runs, () => onDone(++settled));
    const kills = await crashLoop({
      ...crashes,
      settled: () => settled === runs.length,
      start: () => startProcess(script("worker"), [store, toolsUrl, String(leaseMs)]),
    });
    return { ...(await asking), crashes: kills, wallMs: performance.now() - started };
  } finally {
    await client.close();
  }
}

/** Asks for every run's undo at once; resolves when each has reported or raised. */
async function askUndo(
  client: Flotilla,
  runs: readonly { runId: string }[],
  onSettled: () => void,
): Promise<{ reports: Map<string, UndoReport>; errors: Map<string, string> }> {
  const reports = new Map<string, UndoReport>();
  const errors = new Map<string, string>();
  await Promise.all(
    runs.map((r) =>
      client
        .undo(r.runId, { timeoutMs: 30 * 60_000 })
        .then(
          (report) => reports.set(r.runId, report),
          (err: unknown) =>
            errors.set(r.runId, isFlotillaError(err) ? `${err.code}: ${err.message}` : String(err)),
        )
        .finally(onSettled),
    ),
  );
  return { reports, errors };
}

/**
 * What an operator does with an undo that did not complete: asks again
 * (`flotilla.undo` redrives a dead-lettered undo, so only what failed is
 * tried again), with one worker that is left alone. Returns the reports
 * and errors of the runs asked again.
 */
export async function askAgain(
  store: string,
  toolsUrl: string,
  runIds: readonly string[],
  leaseMs: number,
): Promise<{ reports: Map<string, UndoReport>; errors: Map<string, string> }> {
  if (runIds.length === 0) return { reports: new Map(), errors: new Map() };
  const client = await Flotilla.open({ store, worker: false });
  const worker = await startProcess(script("worker"), [store, toolsUrl, String(leaseMs)]);
  try {
    return await askUndo(
      client,
      runIds.map((runId) => ({ runId })),
      () => undefined,
    );
  } finally {
    await kill(worker);
    await client.close();
  }
}
