import { join } from "node:path";
import { createOpenAIProvider } from "../../src/providers/openai.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { startSimProvider } from "../../src/sim/index.js";
import { MODEL } from "./stacks.js";

/** Seconds of health before the outage, of full outage, and of health after; runs started per second. */
export interface Timeline {
  before: number;
  outage: number;
  after: number;
  rate: number;
}

export interface OutageFigures {
  /** Upstream requests made for the runs started during the outage, until they finished, per run (one call each). */
  flotillaAmplification: number;
  /** The worst second of the outage: requests arriving in it over calls started in it. */
  peakSecondAmplification: number;
  perSecond: number[];
  /** Runs started during the outage. */
  runs: number;
  /** Runs of the whole timeline (before, during, after) that failed. */
  runsFailed: number;
  /** Runs started during the outage that completed once the provider was back. */
  runsCompletedAfterRecovery: number;
  /** From the end of the outage to the last run started during it completing. */
  secondsFromRecoveryToAllResumed: number;
  /** From the end of the outage until completions per second are back to 90% of before. */
  secondsToNinetyPercentThroughput: number;
  baselineRunsPerSecond: number;
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A run still unsettled this long after the timeline is reported as failed, not waited for. */
const SETTLE_MS = 120_000;

/**
 * Flotilla on its defaults under a steady arrival of one-call runs: healthy,
 * then a full outage of the provider, then healthy again. Requests made
 * during the outage all belong to runs started before its end; after it, the
 * provider's responder tells which run each request is for (its prompt names
 * the run), so the runs started during the outage are charged every request
 * they made, until they finished.
 */
export async function flotillaOutage(
  dir: string,
  seed: number,
  timeline: Timeline,
): Promise<OutageFigures> {
  let t0 = 0;
  let outageEnd = Infinity;
  const afterOutage: number[] = [];
  const sim = await startSimProvider(
    { seed, latency: { medianMs: 5, p99Ms: 30 } },
    {
      respond: (r) => {
        const task = /^task (\d+) /.exec(r.messages.at(-1)?.text ?? "")?.[1];
        if (task !== undefined && Date.now() - t0 >= outageEnd) afterOutage.push(Number(task));
        return undefined;
      },
    },
  );
  const flotilla = await Flotilla.open({
    store: join(dir, "outage.db"),
    providers: {
      default: createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "bench", model: MODEL }),
    },
  });
  const task = flotilla.agent("bench.task", async (ctx, i: number) => {
    await ctx.llm({
      model: MODEL,
      messages: [{ role: "user", content: `task ${i} step 0` }],
      maxTokens: 16,
    });
    return i;
  });
  const outageStart = timeline.before * 1000;
  outageEnd = outageStart + timeline.outage * 1000;
  const total = outageEnd + timeline.after * 1000;
  const started: number[] = [];
  const settled: { at: number; ok: boolean }[] = [];
  const requestsAt: { t: number; requests: number }[] = [];
  const pending: Promise<unknown>[] = [];
  t0 = Date.now();
  const sample = () => requestsAt.push({ t: Date.now() - t0, requests: sim.stats().requests });
  const sampler = setInterval(sample, 100);
  try {
    let outage = false;
    for (let t = 0; t < total; t = Date.now() - t0) {
      if (!outage && t >= outageStart && t < outageEnd) {
        sample();
        sim.setOutage((outage = true));
      }
      if (outage && t >= outageEnd) {
        sample();
        sim.setOutage((outage = false));
      }
      const i = started.push(t) - 1;
      const run = await flotilla.start(task, i);
      pending.push(
        run.result({ timeoutMs: SETTLE_MS }).then(
          () => (settled[i] = { at: Date.now() - t0, ok: true }),
          () => (settled[i] = { at: Date.now() - t0, ok: false }),
        ),
      );
      await sleep(1000 / timeline.rate);
    }
    await Promise.all(pending);
  } finally {
    clearInterval(sampler);
    await flotilla.close();
    await sim.close();
  }
  const requestsBy = (t: number) => requestsAt.filter((s) => s.t <= t).at(-1)?.requests ?? 0;
  const during = started.flatMap((t, i) => (t >= outageStart && t < outageEnd ? [i] : []));
  const duringSet = new Set(during);
  const charged =
    requestsBy(outageEnd) -
    requestsBy(outageStart) +
    afterOutage.filter((i) => duringSet.has(i)).length;
  const perSecond: number[] = [];
  for (let s = outageStart; s + 1000 <= outageEnd; s += 1000) {
    const calls = started.filter((t) => t >= s && t < s + 1000).length;
    perSecond.push(calls === 0 ? 0 : (requestsBy(s + 1000) - requestsBy(s)) / calls);
  }
  const completions = settled.filter((s) => s.ok).map((s) => s.at);
  const throughput = (from: number, to: number) =>
    completions.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
  const baseline = throughput(1000, outageStart);
  let recovered = Infinity;
  for (let t = outageEnd; t + 1000 <= total; t += 250) {
    if (throughput(t, t + 1000) >= 0.9 * baseline) {
      recovered = (t + 1000 - outageEnd) / 1000;
      break;
    }
  }
  const lastDuring = Math.max(outageEnd, ...during.map((i) => settled[i]?.at ?? Infinity));
  return {
    flotillaAmplification: round(during.length === 0 ? 0 : charged / during.length),
    peakSecondAmplification: round(Math.max(0, ...perSecond)),
    perSecond: perSecond.map((x) => round(x, 2)),
    runs: during.length,
    runsFailed: started.length - completions.length,
    runsCompletedAfterRecovery: during.filter((i) => settled[i]?.ok).length,
    secondsFromRecoveryToAllResumed: round((lastDuring - outageEnd) / 1000, 1),
    secondsToNinetyPercentThroughput: recovered,
    baselineRunsPerSecond: round(baseline, 1),
  };
}
