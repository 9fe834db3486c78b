import { canonicalJson } from "../../src/core/json.js";
import type { LlmMessage, LlmProvider } from "../../src/providers/types.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { SETTLES } from "./agents.js";
import { figure, mean, ratio } from "./stats.js";

export interface ConversationFigures {
  turns: number;
  storedBytes: number;
  uniqueBytes: number;
  ratio: number;
  msPerTurnFirst100: number;
  msPerTurnLast100: number;
}

const WINDOW = 100;

const userTurn = (t: number): LlmMessage => ({
  role: "user",
  content: `Turn ${t}: where is my order #${1000 + t}? ${"Please check again. ".repeat(8)}`,
});
const assistantTurn = (historyLength: number): LlmMessage => ({
  role: "assistant",
  content: `Answer to turn ${historyLength}: ${"the order ships Tuesday; ".repeat(16)}`,
});
const SYSTEM: LlmMessage = {
  role: "system",
  content: "You are a support agent for an online shop.",
};

/** Answers at once, so a turn's cost is the journal's. */
const talker: LlmProvider = {
  name: "talker",
  complete: (request) =>
    Promise.resolve({
      message: assistantTurn(request.messages.length),
      usage: { inputTokens: 100, outputTokens: 100 },
      model: request.model,
      finishReason: "stop",
    }),
};

/**
 * One run resending its growing history each turn, on SQLite: storage must
 * grow with what is new, and so must a turn's cost (the last 100 turns no
 * slower than the first 100).
 */
export async function conversation(
  store: string,
  turns: number,
  onTurn: (t: number) => void,
): Promise<ConversationFigures> {
  const turnMs: number[] = [];
  const f = await Flotilla.open({ store, providers: { default: talker } });
  let bytes: { events: number; blobs: number };
  try {
    const agent = f.agent("bench.conversation", async (ctx, n: number) => {
      const history: LlmMessage[] = [SYSTEM];
      for (let t = 0; t < n; t++) {
        history.push(userTurn(t));
        const t0 = performance.now();
        const r = await ctx.llm({ model: "m", messages: history });
        turnMs.push(performance.now() - t0);
        history.push(r.message);
        onTurn(t + 1);
      }
      return history.length;
    });
    await (await f.start(agent, turns)).result(SETTLES);
    bytes = await f.store.storedBytes();
  } finally {
    await f.close();
  }
  // The distinct messages the conversation produced, each counted once.
  const messages = [SYSTEM];
  for (let t = 0; t < turns; t++) messages.push(userTurn(t), assistantTurn(2 * t + 2));
  const unique = new Set(messages.map((m) => canonicalJson(m)));
  const uniqueBytes = [...unique].reduce((s, m) => s + Buffer.byteLength(m), 0);
  const storedBytes = bytes.events + bytes.blobs;
  return {
    turns,
    storedBytes,
    uniqueBytes,
    ratio: ratio(storedBytes, uniqueBytes),
    msPerTurnFirst100: figure(mean(turnMs.slice(0, WINDOW))),
    msPerTurnLast100: figure(mean(turnMs.slice(-WINDOW))),
  };
}
