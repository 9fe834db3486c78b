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
  return [
    `${r.runs} tickets × ${r.branches} parallel classifiers at temperature ${r.temperature} (seed ${r.seed})`,
    "",
    "                                    naive      flotilla",
    `contradictions reaching composer    ${String(n.contradictionsReachingComposer).padEnd(11)}${f.contradictionsReachingComposer}`,
    `wrong facts composed (of ${r.runs * 2})      ${String(n.wrongFactsComposed).padEnd(11)}${f.wrongFactsComposed}`,
    `LLM calls                           ${String(n.llmCalls).padEnd(11)}${f.llmCalls}`,
    `wall time (s)                       ${String(n.wallSeconds).padEnd(11)}${f.wallSeconds}`,
    "",
    `Flotilla detected ${f.detected} contradictions (${r.detectedEqualsNaive ? "all" : "NOT all"} of the naive column's), resolved by ${list(f.resolvedBy)}`,
    `ctx.reconcile resolutions: ${list(f.reconcileResolutions)}; ${f.humanSignals} human signals; ${f.failedRuns} runs failed`,
  ].join("\n");
}
