import { canonicalJson, sha256 } from "../../core/json.js";
import { rngFor, type Rng } from "../../core/rng.js";
import { estimateTokens, type SimChatRequest } from "./chatRequest.js";
import type { SimRule } from "./options.js";

/** An error the scripted provider answers with (e.g. a context-length 400). */
export interface SimErrorReply {
  error: { status: number; type?: string; code?: string; message?: string };
}

export interface SimAnswer {
  text?: string;
  toolCalls?: { name: string; arguments: Record<string, unknown> }[];
  /** Billed output tokens. Default: estimated from the text and calls. */
  outputTokens?: number;
  /** Default: "tool_calls" with calls, else "stop". */
  finishReason?: "stop" | "length" | "tool_calls" | "content_filter";
}

export type SimReply = SimAnswer | SimErrorReply;

/**
 * A test's hook: return a reply to script this request, or undefined to let
 * the rules and the default answer it.
 */
export type SimResponder = (request: SimChatRequest) => SimReply | undefined;

/** A finished answer with its token counts settled. */
export interface SimCompletion {
  text: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
  outputTokens: number;
  finishReason: "stop" | "length" | "tool_calls" | "content_filter";
}

const WORDS = [
  "the",
  "fleet",
  "agent",
  "plan",
  "is",
  "ready",
  "and",
  "every",
  "step",
  "was",
  "checked",
  "against",
  "journal",
  "before",
  "tool",
  "ran",
  "so",
  "nothing",
  "repeats",
  "budget",
  "holds",
  "retry",
  "once",
  "outcome",
  "recorded",
  "result",
  "stable",
  "order",
  "shipped",
  "today",
  "with",
  "care",
];

export function isErrorReply(reply: SimReply): reply is SimErrorReply {
  return "error" in reply;
}

/**
 * Answers from the scripted rules, else deterministically from the seed and
 * the request itself: the same request always gets the same answer, which is
 * what a replay test needs.
 */
export function defaultReply(
  req: SimChatRequest,
  rules: SimRule[],
  seed: number,
  length: { minTokens: number; maxTokens: number },
): SimAnswer {
  const rng = rngFor(
    seed,
    "answer",
    sha256(canonicalJson([req.model, req.messages])).toString("hex"),
  );
  const lastUser = [...req.messages].reverse().find((m) => m.role === "user")?.text ?? "";
  const answeringTool = req.messages.at(-1)?.role === "tool";
  for (const rule of rules) {
    if (rule.match !== undefined && !new RegExp(rule.match).test(lastUser)) continue;
    const tool = rule.tool === undefined ? undefined : req.tools.find((t) => t.name === rule.tool);
    if (tool && !answeringTool) {
      return {
        toolCalls: [
          { name: tool.name, arguments: rule.arguments ?? objectOf(tool.parameters, rng) },
        ],
      };
    }
    if (rule.text !== undefined) return { text: rule.text };
  }
  if (req.responseSchema) return { text: JSON.stringify(exampleOf(req.responseSchema, rng)) };
  const n = rng.int(length.minTokens, length.maxTokens);
  // One word is one token, so the length option means what it says.
  return { text: Array.from({ length: n }, () => rng.pick(WORDS)).join(" "), outputTokens: n };
}

/** Settles ids, token counts and the finish reason; truncates at `max_tokens` like a model does. */
export function settle(answer: SimAnswer, req: SimChatRequest, idPrefix: string): SimCompletion {
  const toolCalls = (answer.toolCalls ?? []).map((c, i) => ({
    id: `${idPrefix}${req.seq}_${i}`,
    name: c.name,
    arguments: JSON.stringify(c.arguments),
  }));
  let text = answer.text ?? null;
  let outputTokens =
    answer.outputTokens ??
    (text === null ? 0 : estimateTokens(text)) +
      toolCalls.reduce((n, c) => n + 8 + estimateTokens(c.arguments), 0);
  let finishReason = answer.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop");
  if (req.maxTokens !== undefined && outputTokens > req.maxTokens && toolCalls.length === 0) {
    text =
      text === null
        ? null
        : text.slice(0, Math.floor((text.length * req.maxTokens) / outputTokens));
    outputTokens = req.maxTokens;
    finishReason = "length";
  }
  return { text, toolCalls, outputTokens, finishReason };
}

/** A value that satisfies common JSON Schemas, so structured-output callers get valid JSON. */
export function exampleOf(schema: Record<string, unknown>, rng: Rng): unknown {
  return example(schema, rng, 0);
}

function objectOf(schema: Record<string, unknown>, rng: Rng): Record<string, unknown> {
  const value = example(schema, rng, 0);
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function example(schema: Record<string, unknown>, rng: Rng, depth: number): unknown {
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum);
  const variants = (schema.anyOf ?? schema.oneOf) as Record<string, unknown>[] | undefined;
  if (Array.isArray(variants) && variants[0]) return example(variants[0], rng, depth);
  const type = Array.isArray(schema.type) ? (schema.type[0] as unknown) : schema.type;
  switch (type) {
    case "string":
      return rng.pick(WORDS);
    case "integer":
      return rng.int(Number(schema.minimum ?? 0), Number(schema.maximum ?? 100));
    case "number":
      return rng.int(Number(schema.minimum ?? 0), Number(schema.maximum ?? 100));
    case "boolean":
      return rng.next() < 0.5;
    case "null":
      return null;
    case "array": {
      const items = (schema.items ?? {}) as Record<string, unknown>;
      const n = depth > 3 ? 0 : Math.max(Number(schema.minItems ?? 1), 1);
      return Array.from({ length: n }, () => example(items, rng, depth + 1));
    }
    default: {
      const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      const out: Record<string, unknown> = {};
      if (depth > 5) return out;
      for (const [k, v] of Object.entries(props)) out[k] = example(v, rng, depth + 1);
      return out;
    }
  }
}
