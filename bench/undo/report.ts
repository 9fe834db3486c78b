interface Column {
  runs: number;
  effects: number;
  fullyUndone: number;
  silentFailures: number;
  compensationsDuplicated: number;
  stillInWorld: number;
  inverseSideEffects: number;
  reportMatchesWorld: boolean;
  reportMismatches: number;
  crashesInjected: number;
  wallSeconds: number;
  outcomes: Record<string, number>;
  faultsMet: { requests: number; injectedErrors: number; lostAfterCommit: number };
  undoErrors?: number;
  undoErrorExamples?: string[];
  mismatchExamples?: string[];
  askedAgain?: {
    asked: number;
    fullyUndone: number;
    silentFailures: number;
    compensationsDuplicated: number;
    reportMatchesWorld: boolean;
    undoErrors: number;
  };
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** The undo bench as a table a person reads: the two columns side by side. */
export function undoReport(result: Record<string, unknown>): string {
  const naive = result.naive as Column;
  const flotilla = result.flotilla as Column;
  const rows: [string, (c: Column) => string | number][] = [
    ["runs undone", (c) => c.runs],
    ["effects", (c) => c.effects],
    ["fully undone runs", (c) => c.fullyUndone],
    ["silent failures", (c) => c.silentFailures],
    ["compensations duplicated", (c) => c.compensationsDuplicated],
    ["effects left in the world", (c) => c.stillInWorld],
    ["side effects of inverses", (c) => c.inverseSideEffects],
    ["report matches world", (c) => (c.reportMatchesWorld ? "yes" : `no (${c.reportMismatches})`)],
    ["undos without a report", (c) => c.undoErrors ?? "-"],
    ["crashes injected", (c) => c.crashesInjected],
    ["tool requests", (c) => c.faultsMet.requests],
    ["  503s injected", (c) => c.faultsMet.injectedErrors],
    ["  answers lost", (c) => c.faultsMet.lostAfterCommit],
    ["wall time (s)", (c) => c.wallSeconds],
  ];
  const outcomes = (c: Column) =>
    Object.entries(c.outcomes)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
  return [
    `Undo of the 12-call fan-out (seed ${String(result.seed)}): naive reverse loop vs flotilla.undo`,
    `${"".padEnd(28)}${pad("naive", 14)}${pad("flotilla", 14)}`,
    ...rows.map(
      ([label, get]) => `${label.padEnd(28)}${pad(get(naive), 14)}${pad(get(flotilla), 14)}`,
    ),
    `naive reported:    ${outcomes(naive)}`,
    `flotilla reported: ${outcomes(flotilla)}`,
    ...(flotilla.mismatchExamples ?? []).map((m) => `  mismatch: ${m}`),
    ...(flotilla.undoErrorExamples ?? []).map((m) => `  no report: ${m}`),
    ...(flotilla.askedAgain && flotilla.askedAgain.asked > 0
      ? [
          `flotilla asked again for the ${flotilla.askedAgain.asked} incomplete undos: ${flotilla.askedAgain.fullyUndone} runs fully undone, ${flotilla.askedAgain.silentFailures} silent failures, ${flotilla.askedAgain.compensationsDuplicated} duplicated, ${flotilla.askedAgain.undoErrors} without a report, report matches world: ${flotilla.askedAgain.reportMatchesWorld ? "yes" : "no"}`,
        ]
      : []),
    "Every figure is read from the simulated services' ledger; a silent failure is an effect still in the world that the column's report does not name.",
  ].join("\n");
}
