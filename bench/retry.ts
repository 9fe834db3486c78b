import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { createOpenAIProvider } from "../src/providers/openai.js";
import type { ResilienceOptions } from "../src/resilience/Resilience.js";
import { Flotilla } from "../src/runtime/Flotilla.js";
import { startSimProvider, type SimProvider } from "../src/sim/index.js";

export interface RetryBenchOptions {
  quick?: boolean;
  seed?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

const MODEL = "sim-small";
const STEPS = 10;
const COOLDOWN_MS = 2_000;
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `n` tasks with at most `limit` at a time. */
async function pool<T>(n: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

const ask = (i: number, step: number) => ({
  model: MODEL,
  messages: [{ role: "user" as const, content: `task ${i} step ${step}` }],
  max_tokens: 16,
});

/** The naive stack: the SDK retries (3 attempts), a wrapper retries it 3 times, the agent loop 3 times. */
async function naiveCall(client: OpenAI, i: number, step: number): Promise<boolean> {
  for (let loop = 0; loop < 3; loop++) {
    for (let wrapper = 0; wrapper < 3; wrapper++) {
      try {
        await client.chat.completions.create(ask(i, step));
        return true;
      } catch {
        // the wrapper and the loop both retry whatever failed
      }
    }
  }
  return false;
}

async function rawTasks(
  sim: SimProvider,
  tasks: number,
  call: (client: OpenAI, i: number, step: number) => Promise<boolean>,
  maxRetries: number,
) {
  sim.reset();
  const client = new OpenAI({ baseURL: sim.openaiBaseURL, apiKey: "bench", maxRetries });
  const ok = await pool(tasks, 50, async (i) => {
    for (let s = 0; s < STEPS; s++) if (!(await call(client, i, s))) return false;
    return true;
  });
  return {
    success: ok.filter(Boolean).length / tasks,
    amplification: sim.stats().requests / (tasks * STEPS),
  };
}

async function openFlotilla(
  dir: string,
  name: string,
  sim: SimProvider,
  resilience: ResilienceOptions,
) {
  const flotilla = await Flotilla.open({
    store: join(dir, `${name}.db`),
    providers: {
      default: createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "bench", model: MODEL }),
    },
    resilience,
    worker: { concurrency: 64, pollMs: 10 },
  });
  const task = flotilla.agent("bench.task", async (ctx, steps: number) => {
    for (let s = 0; s < steps; s++)
      await ctx.llm({
        model: MODEL,
        messages: [{ role: "user", content: `step ${s}` }],
        maxTokens: 16,
      });
    return steps;
  });
  return { flotilla, task };
}

async function transient(dir: string, seed: number, tasks: number) {
  const sim = await startSimProvider({
    seed,
    faults: { errorRate: 0.02 },
    latency: { medianMs: 5, p99Ms: 30 },
  });
  try {
    const noRetry = await rawTasks(
      sim,
      tasks,
      async (c, i, s) =>
        c.chat.completions.create(ask(i, s)).then(
          () => true,
          () => false,
        ),
      0,
    );
    const naive = await rawTasks(sim, tasks, naiveCall, 2);
    sim.reset();
    const { flotilla, task } = await openFlotilla(dir, "transient", sim, {});
    const runs = await Promise.all(
      Array.from({ length: tasks }, () => flotilla.start(task, STEPS)),
    );
    const done = await Promise.all(
      runs.map((r) =>
        r.result().then(
          () => true,
          () => false,
        ),
      ),
    );
    const requests = sim.stats().requests;
    await flotilla.close();
    return {
      tasks,
      stepsPerTask: STEPS,
      errorRate: 0.02,
      noRetrySuccess: round(noRetry.success),
      naiveSuccess: round(naive.success),
      flotillaSuccess: round(done.filter(Boolean).length / tasks),
      naiveAmplification: round(naive.amplification),
      flotillaAmplification: round(requests / (tasks * STEPS)),
    };
  } finally {
    await sim.close();
  }
}

/** Naive logical calls started during a full outage, each run to exhaustion. */
async function naiveOutage(seed: number, calls: number) {
  const sim = await startSimProvider({ seed, latency: { medianMs: 5, p99Ms: 30 } });
  try {
    sim.setOutage(true);
    const client = new OpenAI({ baseURL: sim.openaiBaseURL, apiKey: "bench", maxRetries: 2 });
    await Promise.all(Array.from({ length: calls }, (_, i) => naiveCall(client, i, 0)));
    return sim.stats().requests / calls;
  } finally {
    await sim.close();
  }
}

/**
 * Flotilla under a steady arrival rate: healthy, then a full outage, then
 * healthy again. Per-second windows give the amplification during the outage
 * (upstream requests over logical calls) and how fast throughput comes back.
 */
async function flotillaOutage(
  dir: string,
  seed: number,
  timeline: { before: number; outage: number; after: number },
  rate: number,
) {
  const sim = await startSimProvider({ seed, latency: { medianMs: 5, p99Ms: 30 } });
  const { flotilla, task } = await openFlotilla(dir, "outage", sim, {
    defaults: { breaker: { cooldownMs: COOLDOWN_MS } },
  });
  const t0 = Date.now();
  const outageStart = timeline.before * 1000;
  const outageEnd = outageStart + timeline.outage * 1000;
  const total = outageEnd + timeline.after * 1000;
  const started: number[] = [];
  const succeeded: number[] = [];
  const requestsAt: { t: number; requests: number }[] = [];
  const pending: Promise<unknown>[] = [];
  try {
    const sampler = setInterval(
      () => requestsAt.push({ t: Date.now() - t0, requests: sim.stats().requests }),
      250,
    );
    let outage = false;
    for (let t = 0; t < total; t = Date.now() - t0) {
      if (!outage && t >= outageStart && t < outageEnd) sim.setOutage((outage = true));
      if (outage && t >= outageEnd) sim.setOutage((outage = false));
      started.push(t);
      const run = await flotilla.start(task, 1);
      pending.push(
        run.result().then(
          () => succeeded.push(Date.now() - t0),
          () => undefined,
        ),
      );
      await sleep(1000 / rate);
    }
    await Promise.all(pending);
    clearInterval(sampler);
  } finally {
    await flotilla.close();
    await sim.close();
  }
  const window = (from: number, to: number) => {
    const reqs = (t: number) => requestsAt.filter((s) => s.t <= t).at(-1)?.requests ?? 0;
    const calls = started.filter((t) => t >= from && t < to).length;
    return calls === 0 ? 0 : (reqs(to) - reqs(from)) / calls;
  };
  const perSecond: number[] = [];
  for (let s = outageStart; s + 1000 <= outageEnd; s += 1000) perSecond.push(window(s, s + 1000));
  const throughput = (from: number, to: number) =>
    succeeded.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
  const baseline = throughput(1000, outageStart);
  let recovered = Infinity;
  for (let t = outageEnd; t + 500 <= total; t += 250) {
    if (throughput(t, t + 500) >= 0.9 * baseline) {
      recovered = (t + 500 - outageEnd) / 1000;
      break;
    }
  }
  return {
    amplificationAfterFirstSeconds: round(window(outageStart + 2000, outageEnd)),
    peak: round(Math.max(...perSecond)),
    perSecond: perSecond.map((x) => round(x, 2)),
    secondsToNinetyPercentThroughput: recovered,
    baselineThroughput: round(baseline, 1),
  };
}

export async function retryBench(options: RetryBenchOptions): Promise<Record<string, unknown>> {
  const seed = options.seed ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "flotilla-retry-"));
  const steps = 3;
  let done = 0;
  const tick = (label: string) => options.onProgress?.(++done, steps, label);
  try {
    const t = await transient(dir, seed, options.quick ? 60 : 300);
    tick("transient errors");
    const timeline = options.quick
      ? { before: 3, outage: 5, after: 5 }
      : { before: 4, outage: 8, after: 6 };
    const [naive, flotilla] = await Promise.all([
      naiveOutage(seed, options.quick ? 10 : 30),
      flotillaOutage(dir, seed, timeline, 25),
    ]);
    tick("outage");
    tick("recovery");
    return {
      seed,
      transient: t,
      outage: {
        seconds: timeline.outage,
        naiveAmplification: round(naive, 2),
        flotillaAmplification: flotilla.amplificationAfterFirstSeconds,
        flotillaPeakAmplification: flotilla.peak,
        flotillaPerSecond: flotilla.perSecond,
      },
      recovery: {
        secondsToNinetyPercentThroughput: flotilla.secondsToNinetyPercentThroughput,
        cooldownSeconds: COOLDOWN_MS / 1000,
        baselineRunsPerSecond: flotilla.baselineThroughput,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
