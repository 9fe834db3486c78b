import { join } from "node:path";
import { createOpenAIProvider } from "../../src/providers/openai.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import type { RunContext } from "../../src/runtime/RunContext.js";
import type { SimProvider } from "../../src/sim/index.js";
import {
  BUDGET_USD,
  FIRST_ANSWER,
  MAX_TOKENS,
  MODEL,
  other,
  round,
  turn,
  type Role,
} from "./scenario.js";

/** How a guarded runaway ended: what stopped it, after how much. */
export interface Detection {
  /** Stopped by a loop detector (not by the budget). */
  detected: boolean;
  class: string | null;
  detector: string | null;
  llmCallsToDetection: number;
  stepsToDetection: number;
  costUsd: number;
  budgetUsd: number;
  overBudget: boolean;
  deadLettered: boolean;
  runs: number;
  errorSeenByCaller: string | null;
}

const LOOP_CLASSES = new Set(["loop-detected", "no-progress"]);
const LOOP_CODES = new Set(["FLOTILLA_LOOP_DETECTED", "FLOTILLA_NO_PROGRESS"]);

/** A Flotilla on its own SQLite file, talking to the simulated provider. */
export function openBenchFlotilla(sim: SimProvider, dir: string, name: string): Promise<Flotilla> {
  return Flotilla.open({
    store: join(dir, `${name}.db`),
    providers: {
      default: createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "bench", model: MODEL }),
    },
    worker: { pollMs: 10 },
  });
}

/** One reviewer's turn through ctx.llm: the model re-checks the other's answer. */
async function review(ctx: RunContext, role: Role, answer: string): Promise<string> {
  const r = await ctx.llm({ model: MODEL, messages: turn(role, answer), maxTokens: MAX_TOKENS });
  return r.message.content ?? "";
}

/** Starts `agent` with a $1 budget, waits for it to end, and reads what stopped it. */
async function measure(
  flotilla: Flotilla,
  sim: SimProvider,
  start: () => ReturnType<Flotilla["start"]>,
): Promise<Detection> {
  const callsBefore = sim.stats().completed;
  const run = await start();
  const error = await run.result({ timeoutMs: 120_000 }).then(
    () => undefined,
    (err: unknown) => err as { code?: string },
  );
  const root = await flotilla.getRun(run.id);
  const runs = await flotilla.store.listRuns({ limit: 10_000 });
  let steps = 0;
  for (const r of runs) {
    const journal = await flotilla.store.readJournal(r.id);
    steps += new Set(journal.map((e) => e.step).filter((s) => s !== null)).size;
  }
  const spent = await flotilla.store.readBudget(`run:${run.id}`);
  // In a chain of runs the detector trips in the deepest one; its parents are dead-lettered after it.
  const letters = await flotilla.listDeadLetters({ limit: 10_000 });
  const origin = letters.find((d) => LOOP_CODES.has(d.error?.code ?? "")) ?? letters[0];
  return {
    detected: origin !== undefined && LOOP_CLASSES.has(origin.class),
    class: origin?.class ?? null,
    detector: origin?.error?.message ?? null,
    llmCallsToDetection: sim.stats().completed - callsBefore,
    stepsToDetection: steps,
    costUsd: round(spent.spentUsd),
    budgetUsd: BUDGET_USD,
    overBudget: spent.spentUsd > BUDGET_USD,
    deadLettered: root.status === "dead-lettered",
    runs: runs.length,
    errorSeenByCaller: error?.code ?? null,
  };
}

/** Two agents, each spawning the other with its answer: the runaway as a chain of runs. */
export async function multiAgent(sim: SimProvider, dir: string): Promise<Detection> {
  const flotilla = await openBenchFlotilla(sim, dir, "multi-agent");
  try {
    type Hop = { answer: string };
    // Defined before use through the registry: each agent spawns the other.
    const solver = flotilla.agent("solver", async (ctx, hop: Hop): Promise<unknown> =>
      ctx.spawn(checker, { answer: await review(ctx, "solver", hop.answer) }),
    );
    const checker = flotilla.agent("checker", async (ctx, hop: Hop): Promise<unknown> =>
      ctx.spawn(solver, { answer: await review(ctx, "checker", hop.answer) }),
    );
    return await measure(flotilla, sim, () =>
      flotilla.start(solver, { answer: FIRST_ANSWER }, { budget: { usd: BUDGET_USD } }),
    );
  } finally {
    await flotilla.close();
  }
}

/**
 * The same runaway inside one agent: a loop of ctx.llm calls alternating
 * the two roles, no spawns. `detectors: false` runs it with the $1 budget
 * alone, as a baseline for what the detectors save.
 */
export async function singleAgent(
  sim: SimProvider,
  dir: string,
  detectors = true,
): Promise<Detection> {
  const name = detectors ? "single-agent" : "single-agent-budget-only";
  const flotilla = await openBenchFlotilla(sim, dir, name);
  try {
    const reviewers = flotilla.agent(
      "reviewers",
      async (ctx, first: string): Promise<never> => {
        let answer = first;
        for (let role: Role = "solver"; ; role = other(role))
          answer = await review(ctx, role, answer);
      },
      detectors ? {} : { loops: false },
    );
    return await measure(flotilla, sim, () =>
      flotilla.start(reviewers, FIRST_ANSWER, { budget: { usd: BUDGET_USD } }),
    );
  } finally {
    await flotilla.close();
  }
}
