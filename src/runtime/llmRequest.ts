import { z } from "zod";
import { parseOptions } from "../core/validate.js";

const ROLES = ["system", "user", "assistant", "tool"] as const;
const roles = new Set<unknown>(ROLES);

const llmRequestSchema = z.object({
  model: z.string().min(1),
  messages: z
    .array(z.object({ role: z.enum(ROLES), content: z.string().nullable() }).loose())
    .min(1),
  tools: z
    .array(
      z.object({ name: z.string().min(1), parameters: z.record(z.string(), z.unknown()) }).loose(),
    )
    .optional(),
  maxTokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
});

/** The request but its messages, for when `plainMessages` has passed them. */
const paramsSchema = llmRequestSchema.omit({ messages: true });

/** What the message schema accepts (zod's object: any non-array, non-function object), checked in place. */
function isMessage(m: unknown): boolean {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return false;
  const { role, content } = m as { role?: unknown; content?: unknown };
  return roles.has(role) && (content === null || typeof content === "string");
}

function plainMessages(messages: unknown): boolean {
  if (!Array.isArray(messages) || messages.length === 0) return false;
  // Indexed, not `every`: a hole is a missing message, which the schema refuses too.
  for (let i = 0; i < messages.length; i++) if (!isMessage(messages[i])) return false;
  return true;
}

/**
 * Validates a `ctx.llm` request. A conversation resends its whole history
 * every turn and zod copies each message it checks, so the messages are
 * checked by a loop that accepts exactly what the schema does and allocates
 * nothing; zod looks at them only to name what is wrong.
 */
export function checkLlmRequest(request: unknown): void {
  const messages = (request as { messages?: unknown } | null | undefined)?.messages;
  if (plainMessages(messages)) parseOptions(paramsSchema, request, "ctx.llm");
  else parseOptions(llmRequestSchema, request, "ctx.llm");
}
