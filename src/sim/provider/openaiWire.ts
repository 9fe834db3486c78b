import { formatResetDuration } from "../../providers/rateLimitHeaders.js";
import type { Meter } from "./keyLimits.js";
import { deltas, type Wire, type WireMeta } from "./wire.js";
import type { SimCompletion } from "./responder.js";

const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;

function usage(c: SimCompletion, m: WireMeta): Record<string, unknown> {
  return {
    prompt_tokens: m.inputTokens,
    completion_tokens: c.outputTokens,
    total_tokens: m.inputTokens + c.outputTokens,
    prompt_tokens_details: { cached_tokens: m.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/** OpenAI's chat completions wire format, as the official SDK parses it. */
export const openAIWire: Wire = {
  body: (c, m) => ({
    id: m.id,
    object: "chat.completion",
    created: Math.floor(m.now / 1000),
    model: m.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: c.text,
          refusal: null,
          ...(c.toolCalls.length > 0 && {
            tool_calls: c.toolCalls.map((t) => ({
              id: t.id,
              type: "function",
              function: { name: t.name, arguments: t.arguments },
            })),
          }),
        },
        logprobs: null,
        finish_reason: c.finishReason,
      },
    ],
    usage: usage(c, m),
  }),

  events: (c, m, includeUsage) => {
    const base = {
      id: m.id,
      object: "chat.completion.chunk",
      created: Math.floor(m.now / 1000),
      model: m.model,
    };
    const chunk = (delta: unknown, finish: string | null = null): string =>
      sse({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    const out = [chunk({ role: "assistant", content: c.text === null ? null : "" })];
    for (const piece of deltas(c.text ?? "")) out.push(chunk({ content: piece }));
    c.toolCalls.forEach((t, index) => {
      out.push(
        chunk({
          tool_calls: [
            { index, id: t.id, type: "function", function: { name: t.name, arguments: "" } },
          ],
        }),
      );
      for (const piece of deltas(t.arguments)) {
        out.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
      }
    });
    out.push(chunk({}, c.finishReason));
    if (includeUsage) out.push(sse({ ...base, choices: [], usage: usage(c, m) }));
    out.push("data: [DONE]\n\n");
    return out;
  },

  error: (e) => ({
    error: {
      message: e.message,
      type: e.type ?? (e.status >= 500 ? "server_error" : "invalid_request_error"),
      param: null,
      code: e.code ?? null,
    },
  }),

  headers: (limits, requestId) => {
    const h: Record<string, string> = { "x-request-id": requestId };
    const meters: [string, Meter | undefined][] = [
      ["requests", limits.requests],
      ["tokens", limits.tokens ?? limits.inputTokens],
    ];
    for (const [name, meter] of meters) {
      if (!meter) continue;
      h[`x-ratelimit-limit-${name}`] = String(meter.limit);
      h[`x-ratelimit-remaining-${name}`] = String(meter.remaining);
      h[`x-ratelimit-reset-${name}`] = formatResetDuration(meter.resetMs);
    }
    return h;
  },
};
