import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { costUsd } from "../src/providers/pricing.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { Flotilla } from "../src/runtime/Flotilla.js";
import { startSimProvider, type SimProvider } from "../src/sim/index.js";

export interface RunawayBenchOptions {
  quick?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Priced like a large hosted model, so the runaway's bill reads like a real one. */
const MODEL = "sim-large";
const BUDGET_USD = 1;
const STEP_CAP = 10_000;
const MAX_TOKENS = 64;
const QUESTION = "What is the refund window for order 1182, and does the customer qualify?";
/** The shared context both agents resend every turn (policy text, the order, the thread). */
const CONTEXT = `You are one of two reviewers. ${"Policy: refunds within 30 days of delivery; items must be unused; shipping is not refunded. ".repeat(12)}`;
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** One turn: an agent asks the model to re-check the other's answer. */
function turn(role: "solver" | "checker", answer: string) {
  const ask =
    role === "solver"
      ? `The checker replied: "${answer}". Please re-check your answer to: ${QUESTION}`
      : `The solver answered: "${answer}". Please re-check it and ask the solver to confirm.`;
  return [
    { role: "system" as const, content: CONTEXT },
    { role: "user" as const, content: ask },
  ];
}

/**
 * Without Flotilla's detectors: the same two agents as a plain loop through
 * the OpenAI SDK. Nothing asks whether the task can complete; only a hard
 * step cap stops it. A step is one agent's turn: its model call, then the
 * hand-off to the other agent (two steps per round trip, as in the guarded run).
 */
async function unguarded(
  sim: SimProvider,
  cap: number,
  onProgress: RunawayBenchOptions["onProgress"],
) {
  const client = new OpenAI({ baseURL: sim.openaiBaseURL, apiKey: "bench", maxRetries: 0 });
  let answer = "I have not answered yet.";
  let steps = 0;
  let usd = 0;
  let role: "solver" | "checker" = "solver";
  while (steps < cap) {
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: turn(role, answer),
      max_tokens: MAX_TOKENS,
    });
    usd +=
      costUsd(MODEL, {
        inputTokens: r.usage?.prompt_tokens ?? 0,
        outputTokens: r.usage?.completion_tokens ?? 0,
      }) ?? 0;
    answer = r.choices[0]?.message.content ?? "";
    role = role === "solver" ? "checker" : "solver";
    steps += 2;
    if (steps % 500 === 0) onProgress?.(steps, cap, "unguarded");
  }
  return { steps, costUsd: round(usd), stoppedBy: `hard step cap (${cap})`, llmCalls: steps / 2 };
}

/** The same agents on Flotilla: durable runs, a $1 run budget, the default loop detectors. */
async function guarded(sim: SimProvider, dir: string) {
  const flotilla = await Flotilla.open({
    store: join(dir, "runaway.db"),
    providers: {
      default: createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "bench", model: MODEL }),
    },
    worker: { pollMs: 10 },
  });
  try {
    type Hop = { answer: string };
    const ask = async (
      role: "solver" | "checker",
      ctx: Parameters<Parameters<typeof flotilla.agent>[1]>[0],
      hop: Hop,
    ) => {
      const r = await ctx.llm({
        model: MODEL,
        messages: turn(role, hop.answer),
        maxTokens: MAX_TOKENS,
      });
      return { answer: r.message.content ?? "" };
    };
    // Defined before use through the registry: each agent spawns the other.
    const solver = flotilla.agent("solver", async (ctx, hop: Hop): Promise<unknown> =>
      ctx.spawn(checker, await ask("solver", ctx, hop)),
    );
    const checker = flotilla.agent("checker", async (ctx, hop: Hop): Promise<unknown> =>
      ctx.spawn(solver, await ask("checker", ctx, hop)),
    );
    const run = await flotilla.start(
      solver,
      { answer: "I have not answered yet." },
      {
        budget: { usd: BUDGET_USD },
      },
    );
    const error = await run.result({ timeoutMs: 60_000 }).then(
      () => undefined,
      (err: unknown) => err as { code?: string; details?: Record<string, unknown> },
    );
    const root = await flotilla.getRun(run.id);
    const [entry] = await flotilla.listDeadLetters({ runId: run.id });
    const runs = await flotilla.store.listRuns({ limit: 10_000 });
    let steps = 0;
    for (const r of runs) {
      const journal = await flotilla.store.readJournal(r.id);
      steps += new Set(journal.map((e) => e.step).filter((s) => s !== null)).size;
    }
    const spent = await flotilla.store.readBudget(`run:${run.id}`);
    const origin = (await flotilla.listDeadLetters({ class: "loop-detected", limit: 10_000 })).find(
      (d) => d.error?.code === "FLOTILLA_LOOP_DETECTED",
    );
    return {
      detectedAfterSteps: steps,
      costUsd: round(spent.spentUsd),
      class: entry?.class ?? null,
      deadLettered: root.status === "dead-lettered",
      budgetUsd: BUDGET_USD,
      overBudget: spent.spentUsd > BUDGET_USD,
      runs: runs.length,
      detector: origin?.error?.message ?? null,
      errorSeenByCaller: error?.code ?? null,
    };
  } finally {
    await flotilla.close();
  }
}

/**
 * The eleven-day, $47,000 loop in miniature: two agents that keep asking each
 * other to re-check their answer, on the simulated provider. Once without
 * detectors (stopped only by a hard step cap, reporting what it would have
 * cost) and once on Flotilla with a $1 run budget and the default detectors.
 */
export async function runawayBench(
  options: RunawayBenchOptions = {},
): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-runaway-"));
  const sim = await startSimProvider({ seed: 11, latency: { medianMs: 0.2, p99Ms: 1 } });
  try {
    const cap = options.quick ? 1_000 : STEP_CAP;
    const t0 = performance.now();
    const before = await unguarded(sim, cap, options.onProgress);
    const unguardedSeconds = (performance.now() - t0) / 1000;
    options.onProgress?.(cap, cap, "guarded");
    const t1 = performance.now();
    const after = await guarded(sim, dir);
    return {
      model: MODEL,
      unguarded: { ...before, wallSeconds: round(unguardedSeconds, 2) },
      guarded: { ...after, wallSeconds: round((performance.now() - t1) / 1000, 2) },
      costRatio: after.costUsd > 0 ? round(before.costUsd / after.costUsd, 1) : null,
    };
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
