import { canonicalJson, type Json } from "../../core/json.js";
import type { RunContext } from "../../runtime/RunContext.js";
import { sameValue } from "../assertions.js";
import type { Subject } from "../conflicts.js";
import type { ReAskOptions } from "../types.js";
import type { Settled } from "./verdict.js";

const SYSTEM =
  "Parallel analyses of the same case disagree about one fact. Choose the value that is " +
  'correct. Answer with JSON {"value": <one of the candidate values, exactly as written>}.';

/**
 * `re-ask`: one more model call, shown the conflicting values (and the
 * caller's context), that must answer with one of them. An answer that is not
 * a candidate is re-sampled (up to ctx.llm's `samples`, default 3), then
 * fails with FLOTILLA_VALIDATION_FAILED: never a value nobody asserted.
 */
export async function reAsk(
  ctx: RunContext,
  s: Subject,
  options: ReAskOptions,
  branches: number,
): Promise<Settled> {
  const values = s.candidates.map((c) => c.value);
  const choose = (answer: unknown): Json => {
    const value = (answer as { value?: unknown } | null)?.value;
    const found = values.find((v) => value !== undefined && sameValue(v, value as Json));
    if (found === undefined)
      throw new Error(
        `${JSON.stringify(value) ?? "no value"} is not one of the candidates ${values.map((v) => canonicalJson(v)).join(", ")}`,
      );
    return found;
  };
  const result = await ctx.llm(
    {
      model: options.model,
      temperature: options.temperature ?? 0,
      ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: question(s, branches, options.context) },
      ],
      responseFormat: {
        name: "reconcile_choice",
        schema: {
          type: "object",
          properties: { value: { enum: values } },
          required: ["value"],
          additionalProperties: false,
        },
      },
    },
    {
      name: "reconcile.re-ask",
      output: { parse: choose },
      ...(options.provider === undefined ? {} : { provider: options.provider }),
    },
  );
  return {
    value: choose(JSON.parse(result.message.content ?? "null")),
    resolution: "re-ask",
    pinned: false,
    note: `chosen by ${result.model} when re-asked`,
  };
}

/** The conflict as the model sees it. */
export function question(s: Subject, branches: number, context?: string): string {
  const lines = [
    `Entity: ${s.entity}`,
    `Fact: ${s.key}`,
    "Candidates:",
    ...s.candidates.map(
      (c) =>
        `- ${canonicalJson(c.value)} (asserted by ${c.branches.length} of ${branches} analyses)`,
    ),
  ];
  if (context) lines.push("", "Context:", context);
  return lines.join("\n");
}
