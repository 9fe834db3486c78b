import type { UndoOutcome, UndoOutcomeKind, UndoReport } from "../../src/saga/undoTypes.js";
import { fullyUndone, reversed, type EffectFate } from "./ledger.js";
import type { NaiveReport } from "./naive.js";

/** What both columns are scored on, from the ledger. */
export interface ColumnScore {
  runs: number;
  effects: number;
  /** Runs in which every effect with an inverse was reversed, exactly once. */
  fullyUndone: number;
  /** Effects still in the world (not reversed) that the column's report does not name as such. */
  silentFailures: number;
  /** Effects whose inverse was performed more than once. */
  compensationsDuplicated: number;
  /** Effects not reversed, named or not (the irreversible ones included). */
  stillInWorld: number;
  /** Effects the inverses caused in the world besides reversing (notices, receipts). */
  inverseSideEffects: number;
  crashesInjected: number;
  wallSeconds: number;
}

/** Outcomes that say the effect is still in the world. */
const LEFT_IN_WORLD = new Set<UndoOutcomeKind>([
  "not-reversible",
  "compensation-failed",
  "unsettled",
]);

/** Whether a reported outcome agrees with what the ledger shows. */
function agrees(outcome: UndoOutcomeKind, fate: EffectFate | undefined): boolean {
  if (!fate) return outcome === "not-applied";
  switch (outcome) {
    case "undone":
      return fate.inverses === 1 && fate.sideEffects === 0;
    case "undone-with-side-effect":
      return fate.inverses === 1 && fate.sideEffects > 0;
    case "not-reversible":
    case "compensation-failed":
      return fate.inverses === 0;
    case "unsettled":
      // Said to be unknown (an inverse's answer lost): right either way, but never twice.
      return fate.inverses <= 1;
    case "not-applied":
      return false;
  }
}

function byRun(fates: readonly EffectFate[]): Map<string, EffectFate[]> {
  const out = new Map<string, EffectFate[]>();
  for (const f of fates) out.set(f.runId, [...(out.get(f.runId) ?? []), f]);
  return out;
}

function base(
  fates: readonly EffectFate[],
  runs: number,
  crashes: number,
  wallMs: number,
): ColumnScore {
  return {
    runs,
    effects: fates.length,
    fullyUndone: [...byRun(fates).values()].filter(fullyUndone).length,
    silentFailures: 0,
    compensationsDuplicated: fates.filter((f) => f.inverses > 1).length,
    stillInWorld: fates.filter((f) => !reversed(f)).length,
    inverseSideEffects: fates.reduce((n, f) => n + f.sideEffects, 0),
    crashesInjected: crashes,
    wallSeconds: Math.round(wallMs / 100) / 10,
  };
}

/**
 * The naive column: its report is one "undone" per run, naming nothing as
 * left behind, so every effect still in the world is a silent failure. Its
 * per-effect claim ("undone") is checked against the ledger like
 * Flotilla's, for the same `reportMatchesWorld`.
 */
export function scoreNaive(
  fates: readonly EffectFate[],
  reports: ReadonlyMap<string, NaiveReport>,
  runs: number,
  crashes: number,
  wallMs: number,
) {
  const mismatches = fates.filter((f) => !agrees("undone", f)).length;
  return {
    ...base(fates, runs, crashes, wallMs),
    silentFailures: fates.filter((f) => !reversed(f)).length,
    reportMatchesWorld: mismatches === 0,
    reportMismatches: mismatches,
    outcomes: { undone: [...reports.values()].length },
    loggedErrors: [...reports.values()].reduce((n, r) => n + r.loggedErrors, 0),
  };
}

/**
 * Flotilla's column: each report entry (found by the effect's idempotency
 * key) must agree with the ledger, every forward effect must have exactly
 * one entry, and an effect left in the world is silent unless its entry
 * says so (not-reversible, compensation-failed or unsettled). A run whose
 * undo raised instead of reporting is counted apart (`undoErrors`,
 * `effectsLeftWithoutReport`): the caller was told, but by no report, and
 * `reportMatchesWorld` is then false.
 */
export function scoreFlotilla(
  fates: readonly EffectFate[],
  reports: ReadonlyMap<string, UndoReport>,
  errors: ReadonlyMap<string, string>,
  runs: number,
  crashes: number,
  wallMs: number,
) {
  const outcomes: Partial<Record<UndoOutcomeKind, number>> = {};
  const examples: string[] = [];
  let silent = 0;
  let leftUnreported = 0;
  let mismatches = 0;
  const mismatch = (why: string) => {
    mismatches++;
    if (examples.length < 5) examples.push(why);
  };
  for (const [runId, own] of byRun(fates)) {
    const report = reports.get(runId);
    const entries = new Map<string, UndoOutcome[]>();
    for (const e of report?.effects ?? []) entries.set(e.key, [...(entries.get(e.key) ?? []), e]);
    for (const f of own) {
      const found = entries.get(f.key) ?? [];
      entries.delete(f.key);
      const entry = found[0];
      if (!report) {
        if (!reversed(f)) leftUnreported++;
        continue;
      }
      if (!reversed(f) && !(entry && LEFT_IN_WORLD.has(entry.outcome))) silent++;
      if (found.length !== 1 || !entry)
        mismatch(`${runId} ${f.operation} ${f.key}: ${found.length} report entries`);
      else if (!agrees(entry.outcome, f))
        mismatch(
          `${runId} ${f.operation}: reported ${entry.outcome}, ledger has ${f.inverses} inverse(s) and ${f.sideEffects} side effect(s)`,
        );
    }
    for (const [key, rest] of entries)
      for (const e of rest)
        if (!agrees(e.outcome, undefined))
          mismatch(
            `${runId} ${e.tool} ${key}: reported ${e.outcome}, no such effect in the ledger`,
          );
  }
  for (const report of reports.values())
    for (const [k, n] of Object.entries(report.counts) as [UndoOutcomeKind, number][])
      if (n > 0) outcomes[k] = (outcomes[k] ?? 0) + n;
  return {
    ...base(fates, runs, crashes, wallMs),
    silentFailures: silent,
    reportMatchesWorld: mismatches === 0 && errors.size === 0,
    reportMismatches: mismatches,
    ...(examples.length > 0 ? { mismatchExamples: examples } : {}),
    outcomes,
    reportsComplete: [...reports.values()].filter((r) => r.complete).length,
    /** Runs whose undo raised an error instead of reporting (parked, timed out). */
    undoErrors: errors.size,
    /** Effects left in the world in those runs: named by no report, though the caller got an error. */
    effectsLeftWithoutReport: leftUnreported,
    ...(errors.size > 0 ? { undoErrorExamples: [...errors.values()].slice(0, 3) } : {}),
  };
}
