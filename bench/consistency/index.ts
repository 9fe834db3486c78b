import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOpenAIProvider } from "../../src/providers/openai.js";
import { startSimProvider } from "../../src/sim/index.js";
import { flotillaColumn, POLICIES } from "./flotillaColumn.js";
import { naiveColumn } from "./naive.js";
import { ASPECTS, casesFor, MODEL, responder, TEMPERATURE, truthByFact } from "./scenario.js";

export { consistencyReport } from "./report.js";

export interface ConsistencyBenchOptions {
  seed: number;
  /** 40 tickets instead of 200. */
  quick?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Tickets in flight at once, in both columns. */
const CONCURRENCY = 16;

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Issue 15's consistency evidence: `runs` support tickets, each read by five
 * parallel classifiers at temperature 0.8 on the simulated provider (through
 * the OpenAI SDK adapter), which misread the customer's plan or the order's
 * status now and then. The naive column's composer merges the branches'
 * answers as they come; Flotilla's branches pin the plan with ctx.decide and
 * its composer takes the facts from ctx.reconcile, a quarter of the tickets
 * under each policy. Same tickets, same seed, same requests (so the same
 * answers), same concurrency.
 */
export async function consistencyBench(
  options: ConsistencyBenchOptions,
): Promise<Record<string, unknown>> {
  const runs = options.quick ? 40 : 200;
  const cases = casesFor(options.seed, runs);
  const sim = await startSimProvider(
    { seed: options.seed, latency: { medianMs: 20, p99Ms: 80 } },
    { respond: responder(options.seed, cases) },
  );
  const dir = mkdtempSync(join(tmpdir(), "flotilla-consistency-"));
  const provider = () =>
    createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "bench", model: MODEL });
  let done = 0;
  const tick = (label: string) => () => options.onProgress?.(++done, runs * 2, label);
  try {
    let t0 = performance.now();
    const naive = await naiveColumn(provider(), cases, CONCURRENCY, tick("naive"));
    const naiveSeconds = (performance.now() - t0) / 1000;
    const naiveCalls = sim.stats().requests;
    t0 = performance.now();
    const flotilla = await flotillaColumn(
      join(dir, "consistency.db"),
      provider(),
      cases,
      truthByFact(cases),
      CONCURRENCY,
      tick("flotilla"),
    );
    const flotillaSeconds = (performance.now() - t0) / 1000;
    const flotillaCalls = sim.stats().requests - naiveCalls;
    return {
      runs,
      seed: options.seed,
      branches: ASPECTS.length,
      temperature: TEMPERATURE,
      concurrency: CONCURRENCY,
      policies: POLICIES,
      naive: {
        contradictionsReachingComposer: naive.contradictionsReachingComposer,
        byFact: naive.byFact,
        ticketsWithDisagreement: naive.ticketsWithDisagreement,
        wrongFactsComposed: naive.wrongFactsComposed,
        llmCalls: naiveCalls,
        wallSeconds: round(naiveSeconds),
      },
      flotilla: {
        contradictionsReachingComposer: flotilla.contradictionsReachingComposer,
        detected: flotilla.detected,
        resolvedBy: flotilla.resolvedBy,
        reconcileResolutions: flotilla.reconcileResolutions,
        contradictionsAmongBranches: flotilla.contradictions,
        wrongFactsComposed: flotilla.wrongFactsComposed,
        llmCalls: flotillaCalls,
        humanSignals: flotilla.humanSignals,
        failedRuns: flotilla.failedRuns,
        ...(flotilla.errors.length > 0 ? { errors: flotilla.errors } : {}),
        wallSeconds: round(flotillaSeconds),
      },
      // The same requests got the same answers: every contradiction the naive composer met was caught.
      detectedEqualsNaive: flotilla.detected === naive.contradictionsReachingComposer,
    };
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
