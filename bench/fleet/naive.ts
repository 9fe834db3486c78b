import OpenAI from "openai";
import type { SimProvider } from "../../src/sim/index.js";
import type { CallLog, FleetSide } from "./sides.js";
import { MODEL, prompt, type Scenario } from "./workload.js";

/** How the naive client retries: the OpenAI SDK's own defaults, untouched. */
export const NAIVE_CLIENT =
  "openai SDK defaults: maxRetries 2, waits retry-after-ms / retry-after when given, else 0.5 s × 2^n with jitter";

/**
 * What most fleets run: every agent calls the provider through the official
 * SDK as it comes, with the SDK's default retries. A task fails when one of
 * its calls is still refused after them, as an unguarded agent loop does.
 */
export function naiveSide(sim: SimProvider, s: Scenario, apiKey: string, log: CallLog): FleetSide {
  const client = new OpenAI({ baseURL: sim.openaiBaseURL, apiKey });
  return {
    name: "naive",
    runTask: async (thread, task, calls, signal) => {
      for (let call = 0; call < calls; call++) {
        const content = prompt(thread, task, call, s.promptChars);
        const r = await client.chat.completions.create(
          {
            model: MODEL,
            messages: [{ role: "user", content }],
            max_completion_tokens: s.maxTokens,
          },
          { signal },
        );
        log.answered(content, r.usage?.prompt_tokens ?? 0, r.usage?.completion_tokens ?? 0);
      }
    },
    figures: () => ({ client: NAIVE_CLIENT }),
    close: () => Promise.resolve(),
  };
}
