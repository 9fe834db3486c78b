import Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  Message,
  MessageCreateParamsBase,
  MessageParam,
  RawMessageStreamEvent,
  Usage,
} from "@anthropic-ai/sdk/resources/messages";
import { z } from "zod";
import { ProviderOptionsSchema, modelOf, sdkClientOptions } from "./options.js";
import { parseOptions } from "../core/validate.js";
import { costUsd } from "./pricing.js";
import { parseRateLimitHeaders } from "./rateLimitHeaders.js";
import { fromSdkError, type SdkErrorShape } from "./sdkErrors.js";
import type {
  LlmCallOptions,
  LlmMessage,
  LlmProvider,
  LlmRequest,
  LlmResponse,
  LlmToolCall,
  LlmUsage,
} from "./types.js";

export const AnthropicProviderOptionsSchema = ProviderOptionsSchema.extend({
  /** The Messages API requires `max_tokens`; used when a request sets none. Default 4096. */
  maxTokens: z.number().int().positive().default(4096),
});
export type AnthropicProviderOptions = z.input<typeof AnthropicProviderOptionsSchema>;

/**
 * An `LlmProvider` over the official `@anthropic-ai/sdk`. The SDK's retries
 * are off: Flotilla owns retries. Finish reasons are normalised to the
 * OpenAI vocabulary ("stop", "tool_calls", "length", "content_filter") so
 * callers branch on one set.
 */
export function createAnthropicProvider(options: AnthropicProviderOptions = {}): LlmProvider {
  const o = parseOptions(AnthropicProviderOptionsSchema, options, "anthropic provider options");
  const name = o.name ?? "anthropic";
  const client = new Anthropic(sdkClientOptions(o));

  async function complete(request: LlmRequest, call: LlmCallOptions): Promise<LlmResponse> {
    const model = modelOf(name, request.model, o.model);
    const body = toBody(request, model, o.maxTokens);
    try {
      const { data, response, request_id } = o.stream
        ? await client.messages
            .create({ ...body, stream: true }, { signal: call.signal })
            .withResponse()
        : await client.messages
            .create({ ...body, stream: false }, { signal: call.signal })
            .withResponse();
      const message = Symbol.asyncIterator in data ? await accumulate(data, call) : data;
      const usage = usageOf(message.usage);
      const cost = costUsd(message.model, usage, o.prices);
      const requestId = request_id ?? response.headers.get("request-id") ?? undefined;
      return {
        message: toLlmMessage(message),
        usage,
        model: message.model,
        finishReason: finishReason(message.stop_reason),
        ...(cost !== undefined && { costUsd: cost }),
        ...(requestId !== undefined && { requestId }),
        rateLimit: parseRateLimitHeaders(response.headers),
      };
    } catch (err) {
      throw fromSdkError(name, err, call.signal, ANTHROPIC_ERRORS);
    }
  }

  return { name, complete };
}

const ANTHROPIC_ERRORS: SdkErrorShape = {
  APIError: Anthropic.APIError,
  APIUserAbortError: Anthropic.APIUserAbortError,
  APIConnectionError: Anthropic.APIConnectionError,
  APIConnectionTimeoutError: Anthropic.APIConnectionTimeoutError,
  providerCode: (err) => {
    const e = err as InstanceType<typeof Anthropic.APIError>;
    return e.errorCode ?? e.type ?? undefined;
  },
};

/** Rebuilds the final message from stream events, forwarding text deltas as they come. */
async function accumulate(
  events: AsyncIterable<RawMessageStreamEvent>,
  call: LlmCallOptions,
): Promise<Message> {
  let message: Message | undefined;
  const partialJson = new Map<number, string>();
  for await (const event of events) {
    // The SDK ends an aborted stream quietly; a cut-off answer must not pass for a whole one.
    call.signal.throwIfAborted();
    switch (event.type) {
      case "message_start":
        message = { ...event.message, content: [] };
        break;
      case "content_block_start":
        message?.content.splice(event.index, 0, { ...event.content_block } as never);
        break;
      case "content_block_delta": {
        const block = message?.content[event.index];
        if (event.delta.type === "text_delta" && block?.type === "text") {
          block.text += event.delta.text;
          call.onDelta?.(event.delta.text);
        } else if (event.delta.type === "input_json_delta") {
          partialJson.set(
            event.index,
            (partialJson.get(event.index) ?? "") + event.delta.partial_json,
          );
        }
        break;
      }
      case "content_block_stop": {
        const block = message?.content[event.index];
        const json = partialJson.get(event.index);
        if (block?.type === "tool_use" && json !== undefined) {
          block.input = json === "" ? {} : (JSON.parse(json) as unknown);
        }
        break;
      }
      case "message_delta":
        if (message) {
          message.stop_reason = event.delta.stop_reason;
          message.usage = { ...message.usage, ...definedOnly(event.usage) };
        }
        break;
      case "message_stop":
        break;
    }
  }
  call.signal.throwIfAborted();
  if (!message) throw new Error("the stream ended before message_start");
  return message;
}

function definedOnly(record: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).filter(([, v]) => v !== null && v !== undefined),
  );
}

function toLlmMessage(message: Message): LlmMessage {
  let text: string | null = null;
  const toolCalls: LlmToolCall[] = [];
  for (const block of message.content) {
    if (block.type === "text") text = (text ?? "") + block.text;
    if (block.type === "tool_use") {
      toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
    }
  }
  return { role: "assistant", content: text, ...(toolCalls.length > 0 && { toolCalls }) };
}

/** Anthropic reports cache reads apart from `input_tokens`; Flotilla's input count includes them. */
function usageOf(usage: Usage): LlmUsage {
  const cached = usage.cache_read_input_tokens ?? 0;
  const written = usage.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: usage.input_tokens + cached + written,
    outputTokens: usage.output_tokens,
    cachedInputTokens: cached,
  };
}

function finishReason(stop: Message["stop_reason"]): string {
  switch (stop) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "tool_use":
      return "tool_calls";
    case "max_tokens":
      return "length";
    case "refusal":
      return "content_filter";
    default:
      return stop ?? "unknown";
  }
}

function toBody(
  request: LlmRequest,
  model: string,
  defaultMaxTokens: number,
): MessageCreateParamsBase {
  const system = request.messages
    .filter((m) => m.role === "system")
    .map((m) => m.content ?? "")
    .join("\n\n");
  return {
    model,
    max_tokens: request.maxTokens ?? defaultMaxTokens,
    messages: toMessages(request.messages),
    ...(system !== "" && { system }),
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.tools &&
      request.tools.length > 0 && {
        tools: request.tools.map((t) => ({
          name: t.name,
          input_schema: { type: "object" as const, ...t.parameters },
          ...(t.description !== undefined && { description: t.description }),
        })),
      }),
    ...(request.responseFormat && {
      output_config: {
        format: { type: "json_schema" as const, schema: request.responseFormat.schema },
      },
    }),
  };
}

/**
 * The Messages API wants strictly alternating user/assistant turns, with
 * every tool result in one user turn, so consecutive same-role messages are
 * merged into one message of content blocks.
 */
function toMessages(messages: LlmMessage[]): MessageParam[] {
  const out: { role: "user" | "assistant"; content: ContentBlockParam[] }[] = [];
  for (const m of messages) {
    if (m.role === "system") continue;
    const role = m.role === "assistant" ? "assistant" : "user";
    const blocks = toBlocks(m);
    const last = out[out.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  }
  return out;
}

function toBlocks(m: LlmMessage): ContentBlockParam[] {
  if (m.role === "tool") {
    return [{ type: "tool_result", tool_use_id: m.toolCallId ?? "", content: m.content ?? "" }];
  }
  const blocks: ContentBlockParam[] = [];
  if (m.content) blocks.push({ type: "text", text: m.content });
  for (const c of m.toolCalls ?? []) {
    blocks.push({ type: "tool_use", id: c.id, name: c.name, input: parseArguments(c.arguments) });
  }
  return blocks;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // A model can emit malformed arguments; passing them back wrapped lets
    // the conversation continue and the model see its own mistake.
    return { _raw: text };
  }
}
