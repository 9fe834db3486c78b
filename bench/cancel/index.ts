import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cancelScenario, type ScenarioResult } from "./scenario.js";
import type { Tally } from "./verdict.js";

export interface CancelBenchOptions {
  seed: number;
  quick?: boolean;
  /** A database the benchmark may fill; omitted: PostgreSQL is not measured. */
  postgresUrl?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Nearest-rank percentile: a figure some sample actually took. */
function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

function spread(xs: readonly number[]) {
  return {
    n: xs.length,
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    max: xs.length ? Math.max(...xs) : null,
  };
}

function storeReport(r: ScenarioResult) {
  const t = r.tally;
  return {
    cancels: t.cancels,
    inProcess: r.inProcess,
    crossProcess: r.crossProcess,
    runsEndedBeforeCancel: r.endedFirst,
    cancelsFailed: r.cancelsFailed,
    effectsAfterStop: t.effectsAfterStop,
    toolsEnteredAfterStop: t.toolsEnteredAfterStop,
    childrenSpawnedAfterStop: t.childrenSpawnedAfterStop,
    intentsAfterStop: t.intentsAfterStop,
    effectsNotInReceipt: t.effectsNotInReceipt,
    receiptStateWrong: t.receiptStateWrong,
    childJournalStateWrong: t.journalStateWrong,
    runsNotSettled: t.runsNotSettled,
    effectsOfCancelledRuns: t.effects,
    children: t.children,
    receipts: t.receipts,
    cancelToAbortMs: {
      inProcess: spread(t.samples.inProcess),
      crossProcess: spread(t.samples.crossProcess),
    },
    toolsFinishedUnaborted: t.toolsFinishedUnaborted,
    cancelToMcpServerCancelledMs: spread(t.samples.mcpServer),
    cancelToReceiptMs: {
      inProcess: spread(t.toReceipt.inProcess),
      crossProcess: spread(t.toReceipt.crossProcess),
    },
    ...(t.examples.length ? { examples: t.examples } : {}),
  };
}

const total = (tallies: Tally[], pick: (t: Tally) => number) =>
  tallies.reduce((s, t) => s + pick(t), 0);

/**
 * Cancels runs at random points (tools slow and fast, children, an MCP tool
 * over stdio), half from a second process, on SQLite and on PostgreSQL, and
 * checks each cancel against what the world's services recorded:
 *
 * - effectsAfterStop: tool calls of the run or its children entered after
 *   the cancel request was durable (`requestCancel` returned in the process
 *   that cancelled) whose key the services' ledgers hold.
 * - effectsNotInReceipt: ledger effects of the run or a child that its
 *   receipt (a child's own, from its run.cancelled event; a child that
 *   completed first: its journal) lists neither as committed nor as in
 *   flight settled committed or unknown.
 * - receiptStateWrong: receipt entries committed (or settled committed) the
 *   ledger lacks, or settled failed the ledger has.
 * - cancelToAbortMs: from the cancel call to the moment the last tool that
 *   was running saw its AbortSignal fire (or returned on its own), per
 *   cancel that found a tool running; by the tools' own clocks.
 */
export async function cancelBench(options: CancelBenchOptions): Promise<Record<string, unknown>> {
  const per = options.quick ? 20 : 150;
  const lanes = options.quick ? 10 : 16;
  const stores: [string, string][] = [];
  const dir = mkdtempSync(join(tmpdir(), "flotilla-cancel-"));
  stores.push(["sqlite", join(dir, "cancel.db")]);
  if (options.postgresUrl) stores.push(["postgres", options.postgresUrl]);
  let done = 0;
  const tick = () => options.onProgress?.(++done, per * stores.length, "runs cancelled");
  try {
    const results: Record<string, ScenarioResult> = {};
    for (const [label, store] of stores)
      results[label] = await cancelScenario({
        store,
        label,
        dir,
        seed: options.seed,
        cancels: per,
        lanes,
        onCancel: tick,
      });
    const tallies = Object.values(results).map((r) => r.tally);
    const all = tallies.flatMap((t) => [...t.samples.inProcess, ...t.samples.crossProcess]);
    const cross = tallies.flatMap((t) => t.samples.crossProcess);
    return {
      seed: options.seed,
      cancels: total(tallies, (t) => t.cancels),
      effectsAfterStop: total(tallies, (t) => t.effectsAfterStop),
      effectsNotInReceipt: total(tallies, (t) => t.effectsNotInReceipt),
      receiptStateWrong: total(tallies, (t) => t.receiptStateWrong),
      toolsEnteredAfterStop: total(tallies, (t) => t.toolsEnteredAfterStop),
      childrenSpawnedAfterStop: total(tallies, (t) => t.childrenSpawnedAfterStop),
      intentsAfterStop: total(tallies, (t) => t.intentsAfterStop),
      p99CancelToAbortMs: percentile(all, 99),
      p99CrossProcessCancelToAbortMs: percentile(cross, 99),
      ...Object.fromEntries(Object.entries(results).map(([k, r]) => [k, storeReport(r)])),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
