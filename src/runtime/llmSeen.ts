import type { Json } from "../core/json.js";
import { fingerprint, type StepSeen } from "../deadletter/loops.js";
import type { LlmRequest } from "../providers/types.js";
import type { LlmResult } from "./llmCall.js";

/**
 * What the loop detectors see of an LLM step. The request is fingerprinted
 * by what its step journaled (its parameters and the head of its message
 * chain, already hashed incrementally as the conversation grew), so the
 * whole history counts without hashing it again, and a replay, which reads
 * the same record, sees the same fingerprint. Tool call ids are left out of
 * the answer: a provider makes new ones for the same call every time.
 */
export function llmSeen(
  request: LlmRequest,
  meta: Record<string, Json>,
  result: LlmResult,
): StepSeen {
  const { content, toolCalls = [] } = result.message;
  const calls = toolCalls.map((c) => [c.name, c.arguments]);
  return {
    fp: fingerprint("llm", request.model, meta.request),
    value: [content, calls],
    llm: { messages: request.messages, answer: [content ?? "", ...calls.flat()].join(" ") },
  };
}
