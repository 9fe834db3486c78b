/** `flotilla bench consistency` without --json: the two columns side by side. */
export function consistencyReport(result: Record<string, unknown>): string {
  const r = result as {
    runs: number;
    seed: number;
    branches: number;
    temperature: number;
    naive: {
      contradictionsReachingComposer: number;
      ticketsWithDisagreement: number;
      wrongFactsComposed: number;
      llmCalls: number;
      wallSeconds: number;
    };
    flotilla: {
      contradictionsReachingComposer: number;
      detected: number;
      resolvedBy: Record<string, number>;
      reconcileResolutions: Record<string, number>;
      wrongFactsComposed: number;
      llmCalls: number;
      humanSignals: number;
      failedRuns: number;
      wallSeconds: number;
    };
    detectedEqualsNaive: boolean;
  };
  const n = r.naive;
  const f = r.flotilla;
  const list = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  const row = (label: string, a: number, b: number) =>
    `${label.padEnd(36)}${String(a).padEnd(11)}${b}`;
  return [
    `${r.runs} tickets × ${r.branches} parallel classifiers at temperature ${r.temperature} (seed ${r.seed})`,
    "",
    `${"".padEnd(36)}${"naive".padEnd(11)}flotilla`,
    row(
      "contradictions reaching composer",
      n.contradictionsReachingComposer,
      f.contradictionsReachingComposer,
    ),
    row(`wrong facts composed (of ${r.runs * 2})`, n.wrongFactsComposed, f.wrongFactsComposed),
    row("LLM calls", n.llmCalls, f.llmCalls),
    row("wall time (s)", n.wallSeconds, f.wallSeconds),
    "",
    `Flotilla detected ${f.detected} contradictions (${r.detectedEqualsNaive ? "all" : "NOT all"} of the naive column's), resolved by ${list(f.resolvedBy)}`,
    `ctx.reconcile resolutions: ${list(f.reconcileResolutions)}; ${f.humanSignals} human signals; ${f.failedRuns} runs failed`,
  ].join("\n");
}
