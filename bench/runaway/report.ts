import type { RunawayReport } from "./index.js";
import type { Detection } from "./guarded.js";

const usd = (x: number) => `$${x.toFixed(4)}`;

function stopped(d: Detection): string {
  const by = d.detected ? `${d.class} detector` : `${d.class ?? "nothing"} (no detector)`;
  return `stopped by ${by} after ${d.llmCallsToDetection} LLM calls, ${d.stepsToDetection} steps, ${usd(d.costUsd)}`;
}

/** The runaway bench as text: what each variant cost before something stopped it. */
export function runawayReport(r: RunawayReport): string {
  const u = r.unguarded;
  const s = r.singleAgent;
  const lines = [
    `runaway bench (${r.model}): two reviewers re-checking each other's answer forever`,
    "",
    `without detectors   ${u.llmCalls} LLM calls, ${usd(u.costUsd)} (${usd(u.usdPerLlmCall)} per call); ${u.stoppedBy}`,
    `two agents          ${stopped(r.multiAgent)}`,
    `one agent           ${stopped(s)}`,
    `  budget alone      ${stopped(s.budgetOnly)}`,
  ];
  if (s.detector) lines.push(`  detector said     ${s.detector}`);
  lines.push(
    "",
    `benign patterns     ${r.benign.completed}/${r.benign.runs} runs completed, ${r.benign.falseAlarms} false alarms`,
  );
  for (const [name, p] of Object.entries(r.benign.patterns))
    lines.push(
      `  ${name.padEnd(18)}${p.runs} runs, ${p.llmCalls} LLM calls: ${p.ended.join(", ")}`,
    );
  return lines.join("\n");
}
