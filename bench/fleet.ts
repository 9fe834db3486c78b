import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { openFleet } from "../src/fleet/open.js";
import type { Admission } from "../src/fleet/types.js";
import type { LlmProvider } from "../src/providers/types.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { Flotilla } from "../src/runtime/Flotilla.js";
import { createRng } from "../src/core/rng.js";
import { startSimProvider, type SimProvider } from "../src/sim/index.js";
import {
  busiestWindowOverLimit,
  contendedFairness,
  goodputOfLimit,
  percentile,
  type CallRecord,
} from "./fleet-measure.js";

export interface FleetBenchOptions {
  quick?: boolean;
  /** A PostgreSQL database the shared-limiter run may use; omitted: not measured. */
  postgresUrl?: string;
  /** A Redis server the shared-limiter run may use; omitted: not measured. */
  redisUrl?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

const MODEL = "sim-small";
const TENANTS = ["t0", "t1", "t2", "t3"];

/**
 * The workload: 100 agents of 4 tenants, started within one second (each
 * tenant's batch landing in its own quarter of it), each making several LLM
 * calls in sequence, against a key whose limits the whole fleet needs well
 * over a minute to get through, so the provider's initial full bucket does
 * not hide the limit.
 */
function scenario(quick: boolean) {
  const agents = 100;
  const calls = quick ? 2 : 3;
  // ~300 prompt tokens; with ~28 output tokens, ~330 a call.
  const promptChars = 1200;
  const tpm = quick ? 40_000 : 60_000;
  const rpm = quick ? 200 : 300;
  return { agents, calls, promptChars, tpm, rpm };
}
type Scenario = ReturnType<typeof scenario>;

function prompt(agent: number, call: number, chars: number): string {
  const words: string[] = [`agent ${agent} step ${call}:`];
  const rng = createRng(agent * 100 + call);
  while (words.join(" ").length < chars) words.push(`w${rng.int(0, 9999)}`);
  return words.join(" ");
}

/** Start offsets: tenant t's agents land in [t/4, (t+1)/4) of one second, in a seeded order. */
function startOffsets(s: Scenario): { agent: number; tenant: string; offsetMs: number }[] {
  const rng = createRng(7);
  return Array.from({ length: s.agents }, (_, agent) => {
    const t = agent % TENANTS.length;
    return { agent, tenant: TENANTS[t] ?? "t0", offsetMs: t * 250 + rng.next() * 250 };
  });
}

/** All at once through the SDK with its default retries: what most fleets do. */
async function naiveRun(sim: SimProvider, s: Scenario, tick: () => void) {
  const client = new OpenAI({ baseURL: sim.openaiBaseURL, apiKey: "naive" });
  const calls: CallRecord[] = [];
  const completed = new Set<number>();
  const t0 = Date.now();
  await Promise.all(
    startOffsets(s).map(async ({ agent, tenant, offsetMs }) => {
      await new Promise((r) => setTimeout(r, offsetMs));
      try {
        for (let i = 0; i < s.calls; i++) {
          const r = await client.chat.completions.create({
            model: MODEL,
            messages: [{ role: "user", content: prompt(agent, i, s.promptChars) }],
            max_completion_tokens: 64,
          });
          calls.push({
            at: Date.now() - t0,
            tenant,
            agent,
            ok: true,
            inputTokens: r.usage?.prompt_tokens ?? 0,
            outputTokens: r.usage?.completion_tokens ?? 0,
          });
        }
        completed.add(agent);
      } catch {
        // The agent dies with its call, as an unguarded agent loop does.
      } finally {
        tick();
      }
    }),
  );
  const durationMs = Date.now() - t0;
  const stats = sim.stats();
  return {
    completed: completed.size,
    agents: s.agents,
    status429: stats.rateLimited,
    providerRequests: stats.requests,
    ...goodputOfLimit(calls, completed, durationMs, s),
    durationMs,
  };
}

/** Waits as the scheduler reported them. */
function recordingWaits(inner: Admission, waits: number[]): Admission {
  return {
    acquire: async (request, signal) => {
      const permit = await inner.acquire(request, signal);
      waits.push(permit.waitedMs);
      return permit;
    },
  };
}

/** Records every successful call; the agent is read back from the prompt's first words. */
function recordingProvider(inner: LlmProvider, t0: number, calls: CallRecord[]): LlmProvider {
  return {
    name: inner.name,
    complete: async (request, options) => {
      const r = await inner.complete(request, options);
      const agent = Number(/^agent (\d+) /.exec(request.messages[0]?.content ?? "")?.[1] ?? -1);
      calls.push({
        at: Date.now() - t0,
        tenant: TENANTS[agent % TENANTS.length] ?? "t0",
        agent,
        ok: true,
        inputTokens: r.usage.inputTokens,
        outputTokens: r.usage.outputTokens,
      });
      return r;
    },
  };
}

/** The same fleet as Flotilla agents: ctx.llm through the SDK (its retries off) under the fleet scheduler. */
async function flotillaRun(sim: SimProvider, s: Scenario, tick: () => void) {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-fleet-"));
  const fleet = await openFleet({
    dependencies: { [`sim:${MODEL}`]: { rpm: s.rpm, tpm: s.tpm } },
  });
  const calls: CallRecord[] = [];
  const waits: number[] = [];
  const t0 = Date.now();
  const flotilla = await Flotilla.open({
    store: join(dir, "fleet.db"),
    providers: {
      default: recordingProvider(
        createOpenAIProvider({ name: "sim", baseURL: sim.openaiBaseURL, apiKey: "flotilla" }),
        t0,
        calls,
      ),
    },
    admission: recordingWaits(fleet, waits),
    worker: { concurrency: s.agents, pollMs: 50 },
  });
  try {
    const agent = flotilla.agent("fleet.bench", async (ctx, input: { agent: number }) => {
      for (let i = 0; i < s.calls; i++)
        await ctx.llm({
          model: MODEL,
          messages: [{ role: "user", content: prompt(input.agent, i, s.promptChars) }],
          maxTokens: 64,
        });
      return input.agent;
    });
    const completed = new Set<number>();
    await Promise.all(
      startOffsets(s).map(async ({ agent: n, tenant, offsetMs }) => {
        await new Promise((r) => setTimeout(r, offsetMs));
        const run = await flotilla.start(agent, { agent: n }, { tenant });
        try {
          await run.result();
          completed.add(n);
        } catch {
          // counted as not completed
        } finally {
          tick();
        }
      }),
    );
    const durationMs = Date.now() - t0;
    const stats = sim.stats();
    const fairness = contendedFairness(calls, TENANTS);
    return {
      completed: completed.size,
      agents: s.agents,
      status429: stats.rateLimited,
      providerRequests: stats.requests,
      ...goodputOfLimit(calls, completed, durationMs, s),
      p99QueueWaitMs: Math.round(percentile(waits, 0.99)),
      jainFairness: fairness.jainFairness,
      fairnessWindowMs: fairness.windowMs,
      tokensByTenantInWindow: fairness.tokensByTenant,
      durationMs,
      limiter: fleet.snapshot().dependencies[0] ?? null,
    };
  } finally {
    await flotilla.close();
    await fleet.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const here = fileURLToPath(import.meta.url);
const workerScript = join(here, "..", `fleet-worker${here.endsWith(".ts") ? ".ts" : ".js"}`);

interface WorkerReport {
  admissions: { at: number; tokens: number }[];
  status429: number;
  errors: number;
  degraded: boolean;
}

function runWorker(args: Record<string, unknown>): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, workerScript, JSON.stringify(args)],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`fleet worker exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as WorkerReport);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** Two processes share one limiter on `limiter`; the busiest window of what they admitted, over the limit. */
async function sharedRun(limiter: string, backend: string, quick: boolean) {
  const rpm = 600;
  const tpm = 60_000;
  const durationMs = quick ? 8_000 : 20_000;
  const windowMs = quick ? 4_000 : 10_000;
  const sim = await startSimProvider({
    limits: { rpm, tpm },
    latency: { medianMs: 150, p99Ms: 600 },
  });
  try {
    const common = {
      limiter,
      redisPrefix: `flotilla:bench:${randomBytes(4).toString("hex")}:`,
      baseURL: sim.openaiBaseURL,
      // A fresh name, so state left by an earlier run cannot help or hurt.
      dependency: `sim:${MODEL}:${randomBytes(4).toString("hex")}`,
      model: MODEL,
      rpm,
      tpm,
      loops: 12,
      startAt: Date.now() + 3000,
      durationMs,
      prompt: prompt(0, 0, 400),
    };
    const reports = await Promise.all([runWorker(common), runWorker(common)]);
    const admissions = reports.flatMap((r) => r.admissions);
    const busiest = busiestWindowOverLimit(admissions, windowMs, { rpm, tpm });
    return {
      processes: reports.length,
      backend,
      admittedOverLimit: busiest.admittedOverLimit,
      windowMs,
      busiestWindow: { requests: busiest.requests, tokens: busiest.tokens },
      limits: { rpm, tpm },
      admitted: admissions.length,
      status429: reports.reduce((n, r) => n + r.status429, 0),
      degraded: reports.some((r) => r.degraded),
      providerRequests: sim.stats().requests,
    };
  } finally {
    await sim.close();
  }
}

/**
 * `flotilla bench fleet`: the same fleet run naively (all at once, the SDK's
 * default retries) and under Flotilla's scheduler against one simulated
 * provider with RPM and TPM token buckets; then two
 * processes sharing one limiter through PostgreSQL and Redis.
 */
export async function fleetBench(options: FleetBenchOptions): Promise<Record<string, unknown>> {
  const s = scenario(options.quick ?? false);
  const sharedBackends = [
    ...(options.postgresUrl ? [["postgres", options.postgresUrl]] : []),
    ...(options.redisUrl ? [["redis", options.redisUrl]] : []),
  ] as [string, string][];
  const total = 2 * s.agents + sharedBackends.length;
  let done = 0;
  const tick = (label: string) => () => options.onProgress?.(++done, total, label);
  const sim = await startSimProvider({
    seed: 1,
    limits: { rpm: s.rpm, tpm: s.tpm },
    latency: { medianMs: 300, p99Ms: 1200 },
  });
  let naive: Record<string, unknown>;
  let flotilla: Record<string, unknown>;
  try {
    naive = await naiveRun(sim, s, tick("naive agents done"));
    sim.reset();
    flotilla = await flotillaRun(sim, s, tick("flotilla agents done"));
  } finally {
    await sim.close();
  }
  const shared: Record<string, unknown>[] = [];
  for (const [backend, url] of sharedBackends) {
    shared.push(await sharedRun(url, backend, options.quick ?? false));
    tick("shared limiter runs")();
  }
  return {
    naive,
    flotilla,
    // One entry per backend measured: PostgreSQL and Redis when both are given.
    shared,
    scenario: { ...s, tenants: TENANTS.length, model: MODEL },
  };
}
