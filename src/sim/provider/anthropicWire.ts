import { deltas, type Wire, type WireMeta } from "./wire.js";
import type { SimCompletion } from "./responder.js";

const sse = (type: string, data: Record<string, unknown>): string =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

const STOP: Record<SimCompletion["finishReason"], string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  content_filter: "refusal",
};

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  529: "overloaded_error",
};

/** Anthropic reports cache reads apart from fresh input. */
function usage(c: SimCompletion | undefined, m: WireMeta): Record<string, unknown> {
  return {
    input_tokens: m.inputTokens - m.cachedInputTokens,
    cache_read_input_tokens: m.cachedInputTokens,
    cache_creation_input_tokens: 0,
    output_tokens: c?.outputTokens ?? 1,
  };
}

function content(c: SimCompletion): Record<string, unknown>[] {
  const blocks: Record<string, unknown>[] = [];
  if (c.text !== null) blocks.push({ type: "text", text: c.text });
  for (const t of c.toolCalls) {
    blocks.push({
      type: "tool_use",
      id: t.id,
      name: t.name,
      input: JSON.parse(t.arguments) as unknown,
    });
  }
  return blocks;
}

/** Anthropic's Messages wire format, as the official SDK parses it. */
export const anthropicWire: Wire = {
  body: (c, m) => ({
    id: m.id,
    type: "message",
    role: "assistant",
    model: m.model,
    content: content(c),
    stop_reason: STOP[c.finishReason],
    stop_sequence: null,
    usage: usage(c, m),
  }),

  events: (c, m) => {
    const out = [
      sse("message_start", {
        message: {
          id: m.id,
          type: "message",
          role: "assistant",
          model: m.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: usage(undefined, m),
        },
      }),
    ];
    let index = 0;
    if (c.text !== null) {
      out.push(sse("content_block_start", { index, content_block: { type: "text", text: "" } }));
      for (const text of deltas(c.text)) {
        out.push(sse("content_block_delta", { index, delta: { type: "text_delta", text } }));
      }
      out.push(sse("content_block_stop", { index }));
      index++;
    }
    for (const t of c.toolCalls) {
      out.push(
        sse("content_block_start", {
          index,
          content_block: { type: "tool_use", id: t.id, name: t.name, input: {} },
        }),
      );
      for (const partial_json of deltas(t.arguments)) {
        out.push(
          sse("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } }),
        );
      }
      out.push(sse("content_block_stop", { index }));
      index++;
    }
    out.push(
      sse("message_delta", {
        delta: { stop_reason: STOP[c.finishReason], stop_sequence: null },
        usage: { output_tokens: c.outputTokens },
      }),
    );
    out.push(sse("message_stop", {}));
    return out;
  },

  error: (e, requestId) => ({
    type: "error",
    error: {
      type:
        e.type ??
        ERROR_TYPES[e.status] ??
        (e.status >= 500 ? "api_error" : "invalid_request_error"),
      message: e.message,
    },
    request_id: requestId,
  }),

  headers: (limits, requestId, now) => {
    const h: Record<string, string> = { "request-id": requestId };
    const meters = [
      ["requests", limits.requests],
      ["tokens", limits.tokens],
      ["input-tokens", limits.inputTokens],
      ["output-tokens", limits.outputTokens],
    ] as const;
    for (const [name, meter] of meters) {
      if (!meter) continue;
      h[`anthropic-ratelimit-${name}-limit`] = String(meter.limit);
      h[`anthropic-ratelimit-${name}-remaining`] = String(meter.remaining);
      h[`anthropic-ratelimit-${name}-reset`] = new Date(now + meter.resetMs).toISOString();
    }
    return h;
  },
};
