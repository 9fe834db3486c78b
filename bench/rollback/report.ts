import type { EngineFigures } from "./index.js";

const ROWS: [string, (f: EngineFigures) => string][] = [
  ["agent runs / statements", (f) => `${f.agents} / ${f.statements}`],
  ["edits by hand (while they ran)", (f) => String(f.humanEdits)],
  ["destructive statements attempted", (f) => String(f.destructiveAttempted)],
  ["  blocked (refused or denied)", (f) => String(f.destructiveBlocked)],
  ["rows written by agents", (f) => String(f.rowsWrittenByAgents)],
  ["  restored by flotilla rollback", (f) => String(f.rowsRestored)],
  ["  conflicts reported (kept)", (f) => String(f.conflictsReported)],
  ["hand edits overwritten", (f) => String(f.humanEditsOverwritten)],
  ["  naive before-image restore", (f) => String(f.naiveRollback.humanEditsOverwritten)],
  ["rows off the ground truth after", (f) => String(f.tableDiffAfterRollback)],
  ["  naive before-image restore", (f) => String(f.naiveRollback.tableDiffAfterRollback)],
  [
    "agents / rollbacks wall time",
    (f) => `${(f.agentsMs / 1000).toFixed(1)} s / ${(f.rollbackMs / 1000).toFixed(1)} s`,
  ],
];

/** The bench's figures as a table, one column per engine. */
export function rollbackReport(result: Record<string, unknown>): string {
  const engines = (["postgres", "sqlite"] as const).filter((e) => {
    const figures = result[e];
    return typeof figures === "object" && figures !== null && "agents" in figures;
  });
  const header = ["", ...engines];
  const lines = ROWS.map(([label, value]) => [
    label,
    ...engines.map((e) => value(result[e] as EngineFigures)),
  ]);
  const widths = header.map((_, i) =>
    Math.max(...[header, ...lines].map((r) => (r[i] ?? "").length)),
  );
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  const skipped = (result.postgres as { skipped?: string } | undefined)?.skipped;
  return [
    `bench rollback (seed ${String(result.seed)}, rowLimit ${String(result.rowLimit)}): agents write while a person edits the same rows; then each run is rolled back`,
    fmt(header),
    ...lines.map(fmt),
    ...(skipped ? [`postgres: ${skipped}`] : []),
    "ground truth: the initial table with only the hand edits applied; a conflict is a row edited by hand since the agent wrote it, reported and kept",
  ].join("\n");
}
