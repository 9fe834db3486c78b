import { InvalidArgumentError } from "../../core/errors.js";
import { runDemo, type DemoReport } from "../../demo/runDemo.js";
import { printJson, printLine } from "../output.js";
import { progressBar } from "../progress.js";
import { nonNegativeInteger, positiveInteger } from "../numbers.js";

function reasons(by: Record<string, number>): string {
  return Object.entries(by)
    .map(([code, n]) => `${n} × ${code}`)
    .join(", ");
}

function printReport(r: DemoReport): void {
  printLine(`Flotilla demo: a support desk of ${r.runs} agents (one run per ticket)`);
  printLine(`  store     ${r.store}`);
  printLine(`  provider  ${r.provider}`);
  printLine();
  printLine(`Runs        ${r.completed} completed, ${r.parked} parked, ${r.failed} failed`);
  if (r.parked) {
    printLine(
      `  parked    ${reasons(r.parkedBecause)}: a tool's response was lost after it may have acted;`,
    );
    printLine("            Flotilla will not send it again blindly. Decide with");
    printLine(
      `            flotilla show ${r.parkedRuns[0]}   then   flotilla resolve <run> <step> --committed|--retry|--failed`,
    );
  }
  if (r.failed) printLine(`  failed    ${reasons(r.failedBecause)}`);
  printLine(
    `Effects     ${r.sideEffects} side effects performed, ${r.duplicateEffects} duplicates`,
  );
  const requests =
    r.providerRequests === null ? "" : `${r.providerRequests} provider requests for `;
  printLine(
    `LLM         ${requests}${r.logicalLlmCalls} logical calls (retries, 429s, the outage and lost responses included; ${r.unansweredLlmCalls} calls got no answer)`,
  );
  if (r.faults) {
    const f = r.faults;
    printLine(
      `Faults met  provider: ${f.rateLimited} rate-limited (429), ${f.serverErrors} server errors, ` +
        `${f.outageRejections} refused during the outage, ${f.lostResponses} lost responses; ` +
        `tools: ${f.toolErrors} errors, ${f.toolLostAfterCommit} lost after acting`,
    );
  }
  printLine(
    `Tokens      ${r.tokens.input} in, ${r.tokens.output} out; cost $${r.costUsd.toFixed(4)}`,
  );
  printLine(`Time        ${r.wallSeconds} s`);
  printLine();
  printLine("Look deeper:");
  printLine("  flotilla runs                       every run and its status");
  if (r.exampleRun) printLine(`  flotilla show ${r.exampleRun}   one run's journal, step by step`);
  printLine("  flotilla runs --status parked       runs waiting for a decision");
}

export async function demoCommand(opts: {
  store: string;
  agents: string;
  provider: string;
  seed: string;
  json?: boolean;
}): Promise<void> {
  if (opts.provider !== "sim" && opts.provider !== "openai") {
    throw new InvalidArgumentError(`--provider must be sim or openai, received '${opts.provider}'`);
  }
  const seed = nonNegativeInteger("--seed", opts.seed);
  const agents = positiveInteger("--agents", opts.agents);
  const bar = progressBar();
  try {
    const report = await runDemo({
      agents,
      store: opts.store,
      provider: opts.provider,
      seed,
      onProgress: bar.update,
      onPhase: bar.phase,
    });
    bar.stop();
    if (opts.json) printJson(report);
    else printReport(report);
  } finally {
    bar.stop();
  }
}
