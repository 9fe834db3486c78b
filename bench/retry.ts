import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { Flotilla } from "../src/runtime/Flotilla.js";
import { startSimProvider } from "../src/sim/index.js";
import { flotillaOutage, type Timeline } from "./retry/outage.js";
import {
  client,
  MODEL,
  outageAmplification,
  rawTasks,
  sdkCall,
  stackedCall,
} from "./retry/stacks.js";

export interface RetryBenchOptions {
  quick?: boolean;
  seed?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

const STEPS = 10;
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Tasks of ten calls at 2% transient errors: no retries, the SDK's defaults, the stacked strawman, Flotilla. */
async function transient(dir: string, seed: number, tasks: number) {
  const sim = await startSimProvider({
    seed,
    faults: { errorRate: 0.02 },
    latency: { medianMs: 5, p99Ms: 30 },
  });
  try {
    const noRetry = await rawTasks(sim, tasks, STEPS, sdkCall, client(sim, 0));
    const sdkDefault = await rawTasks(sim, tasks, STEPS, sdkCall, client(sim));
    const stacked = await rawTasks(sim, tasks, STEPS, stackedCall, client(sim, 2));
    sim.reset();
    const flotilla = await Flotilla.open({
      store: join(dir, "transient.db"),
      providers: {
        default: createOpenAIProvider({
          baseURL: sim.openaiBaseURL,
          apiKey: "bench",
          model: MODEL,
        }),
      },
    });
    let done: boolean[];
    try {
      const task = flotilla.agent("bench.task", async (ctx, steps: number) => {
        for (let s = 0; s < steps; s++)
          await ctx.llm({
            model: MODEL,
            messages: [{ role: "user", content: `step ${s}` }],
            maxTokens: 16,
          });
        return steps;
      });
      const runs = await Promise.all(
        Array.from({ length: tasks }, () => flotilla.start(task, STEPS)),
      );
      done = await Promise.all(
        runs.map((r) =>
          r.result().then(
            () => true,
            () => false,
          ),
        ),
      );
    } finally {
      await flotilla.close();
    }
    return {
      tasks,
      stepsPerTask: STEPS,
      errorRate: 0.02,
      noRetrySuccess: round(noRetry.success),
      sdkDefaultSuccess: round(sdkDefault.success),
      naiveStackSuccess: round(stacked.success),
      flotillaSuccess: round(done.filter(Boolean).length / tasks),
      sdkDefaultAmplification: round(sdkDefault.amplification),
      naiveStackAmplification: round(stacked.amplification),
      flotillaAmplification: round(sim.stats().requests / (tasks * STEPS)),
    };
  } finally {
    await sim.close();
  }
}

/** Requests per call of the SDK on its defaults and of the stacked strawman, every call in a full outage. */
async function naiveOutages(seed: number, calls: number) {
  const sim = await startSimProvider({ seed, latency: { medianMs: 5, p99Ms: 30 } });
  try {
    return {
      sdkDefault: await outageAmplification(sim, calls, sdkCall, client(sim)),
      naiveStack: await outageAmplification(sim, calls, stackedCall, client(sim, 2)),
    };
  } finally {
    await sim.close();
  }
}

/**
 * One retry owner against retries stacked at every layer, on the simulated
 * provider through the official OpenAI SDK, counting requests on the
 * server's side; Flotilla on its defaults throughout (breaker cooldown 5 s,
 * retry budget, outage waits). `outage.wholeWindow` charges the runs started
 * during a full outage with every request they made until they finished.
 */
export async function retryBench(options: RetryBenchOptions): Promise<Record<string, unknown>> {
  const seed = options.seed ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "flotilla-retry-"));
  let done = 0;
  const tick = (label: string) => options.onProgress?.(++done, 3, label);
  const timeline: Timeline = options.quick
    ? { before: 2, outage: 6, after: 10, rate: 10 }
    : { before: 4, outage: 20, after: 15, rate: 10 };
  try {
    const t = await transient(dir, seed, options.quick ? 60 : 300);
    tick("transient errors");
    const naive = await naiveOutages(seed, options.quick ? 10 : 30);
    tick("naive clients in an outage");
    const f = await flotillaOutage(dir, seed, timeline);
    tick("Flotilla through an outage");
    return {
      seed,
      transient: t,
      outage: {
        seconds: timeline.outage,
        runsPerSecond: timeline.rate,
        wholeWindow: {
          flotillaAmplification: f.flotillaAmplification,
          peakSecondAmplification: f.peakSecondAmplification,
          sdkDefaultAmplification: round(naive.sdkDefault, 2),
          naiveStackAmplification: round(naive.naiveStack, 2),
          runsFailed: f.runsFailed,
          runsCompletedAfterRecovery: f.runsCompletedAfterRecovery,
          runs: f.runs,
          secondsFromRecoveryToAllResumed: f.secondsFromRecoveryToAllResumed,
        },
        flotillaPerSecond: f.perSecond,
      },
      recovery: {
        secondsToNinetyPercentThroughput: f.secondsToNinetyPercentThroughput,
        baselineRunsPerSecond: f.baselineRunsPerSecond,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
