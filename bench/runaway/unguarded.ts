import OpenAI from "openai";
import { costUsd } from "../../src/providers/pricing.js";
import type { SimProvider } from "../../src/sim/index.js";
import { FIRST_ANSWER, MAX_TOKENS, MODEL, other, round, turn, type Role } from "./scenario.js";

export interface UnguardedResult {
  steps: number;
  llmCalls: number;
  costUsd: number;
  usdPerLlmCall: number;
  stoppedBy: string;
}

/**
 * Without Flotilla: the two reviewers as a plain loop through the OpenAI
 * SDK. Nothing asks whether the task can complete; only a hard step cap
 * stops it, so its cost is whatever the cap allows. A step is one
 * reviewer's turn: its model call, then the hand-off to the other.
 */
export async function unguarded(
  sim: SimProvider,
  cap: number,
  onProgress?: (done: number, total: number, label: string) => void,
): Promise<UnguardedResult> {
  const client = new OpenAI({ baseURL: sim.openaiBaseURL, apiKey: "bench", maxRetries: 0 });
  let answer = FIRST_ANSWER;
  let steps = 0;
  let usd = 0;
  let role: Role = "solver";
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
    role = other(role);
    steps += 2;
    if (steps % 500 === 0) onProgress?.(steps, cap, "unguarded");
  }
  const llmCalls = steps / 2;
  return {
    steps,
    llmCalls,
    costUsd: round(usd),
    usdPerLlmCall: round(usd / llmCalls, 6),
    stoppedBy: `hard step cap (${cap})`,
  };
}
