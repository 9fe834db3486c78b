import { rngFor } from "../../src/core/rng.js";
import type { LlmMessage } from "../../src/providers/types.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import type { SimChatRequest, SimProvider, SimReply } from "../../src/sim/index.js";
import { openBenchFlotilla } from "./guarded.js";
import { MAX_TOKENS, MODEL, SEED } from "./scenario.js";

const POLL_ASK = "The export job is at";
const NAME_ASK = "Suggest one more name for the product, with a reason.";
const NAMES =
  "Nimbus Zephyr Kestrel Juniper Halcyon Meridian Tessera Solstice Lumen Cobalt Aster Quill Sable Tundra Vesper".split(
    " ",
  );
const REASONS = [
  "It is short, easy to spell and works in every language we sell in.",
  "It sounds light and fast, which is what the product is.",
  "It is memorable and the domain is probably still free.",
  "It hints at the sky without saying cloud.",
];

/**
 * The simulated model's answers to the benign patterns' asks: the same
 * advice at every poll (the percentage in the ask is the news), and a new
 * name from one template for the repeated instruction. Undefined for
 * anything else ("Continue." gets the simulator's default answer, new
 * words every turn).
 */
export function benignAnswer(req: SimChatRequest): SimReply | undefined {
  const ask = req.messages.at(-1)?.text ?? "";
  if (ask.startsWith(POLL_ASK))
    return { text: "It is still running. Wait a little and check again." };
  if (ask !== NAME_ASK) return undefined;
  const rng = rngFor(SEED, "name", req.seq);
  return { text: `How about "${rng.pick(NAMES)}"? ${rng.pick(REASONS)}` };
}

export interface BenignResult {
  runs: number;
  completed: number;
  /** Runs dead-lettered by a loop detector. */
  falseAlarms: number;
  /** Per pattern: how many runs, LLM calls in all, and how each ended. */
  patterns: Record<string, { runs: number; llmCalls: number; ended: string[] }>;
}

const user = (content: string): LlmMessage => ({ role: "user", content });
const assistant = (content: string): LlmMessage => ({ role: "assistant", content });

function defineAgents(flotilla: Flotilla) {
  const polls = new Map<number, number>();
  const status = flotilla.tool("export.status", {
    effect: "read",
    run: async (a: { job: number }) => {
      const n = (polls.get(a.job) ?? 0) + 1;
      polls.set(a.job, n);
      return { percent: Math.min(100, n * 15) };
    },
  });
  const ask = (messages: LlmMessage[]) => ({ model: MODEL, messages, maxTokens: MAX_TOKENS });
  return {
    /** A story told "Continue." every turn, its history growing. */
    continue: flotilla.agent("continue", async (ctx, rep: number) => {
      const history = [user(`Write a twelve-part story about a lighthouse keeper (draft ${rep}).`)];
      for (let part = 0; part < 12; part++) {
        const r = await ctx.llm(ask(history));
        history.push(assistant(r.message.content ?? ""), user("Continue."));
      }
      return history.length;
    }),
    /** A status poll whose result changes, asking the model what to do after each. */
    poll: flotilla.agent("poll", async (ctx, rep: number) => {
      for (;;) {
        const { percent } = await ctx.call(status, { job: rep });
        if (percent >= 100) return percent;
        await ctx.llm(ask([user(`${POLL_ASK} ${percent}%. Should I keep waiting?`)]));
      }
    }),
    /** The same instruction ten times, each answer added to the history. */
    instruction: flotilla.agent("instruction", async (ctx, _rep: number) => {
      const history: LlmMessage[] = [];
      for (let i = 0; i < 10; i++) {
        history.push(user(NAME_ASK));
        const r = await ctx.llm(ask(history));
        history.push(assistant(r.message.content ?? ""));
      }
      return history.length;
    }),
  };
}

/**
 * Patterns that look like loops to a detector that reads only the last
 * message or only a tool's arguments, each run `repeats` times on Flotilla
 * with the default detectors. Each must complete; a loop dead letter is a
 * false alarm.
 */
export async function benign(sim: SimProvider, dir: string, repeats = 3): Promise<BenignResult> {
  const flotilla = await openBenchFlotilla(sim, dir, "benign");
  try {
    const agents = defineAgents(flotilla);
    const result: BenignResult = { runs: 0, completed: 0, falseAlarms: 0, patterns: {} };
    for (const [name, agent] of Object.entries(agents)) {
      const pattern = { runs: 0, llmCalls: 0, ended: [] as string[] };
      for (let rep = 1; rep <= repeats; rep++) {
        const before = sim.stats().completed;
        const run = await flotilla.start(agent, rep);
        await run.result({ timeoutMs: 60_000 }).catch(() => undefined);
        const { status } = await flotilla.getRun(run.id);
        const [letter] = await flotilla.listDeadLetters({ runId: run.id });
        const alarm = letter?.class === "loop-detected" || letter?.class === "no-progress";
        pattern.runs++;
        pattern.llmCalls += sim.stats().completed - before;
        pattern.ended.push(letter ? `${status} (${letter.class})` : status);
        result.runs++;
        if (status === "completed") result.completed++;
        if (alarm) result.falseAlarms++;
      }
      result.patterns[name] = pattern;
    }
    return result;
  } finally {
    await flotilla.close();
  }
}
