import OpenAI from "openai";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
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

export const OpenAIProviderOptionsSchema = ProviderOptionsSchema.extend({
  /**
   * Which body field carries `maxTokens`. OpenAI's own models want
   * `max_completion_tokens` (the default); some compatible servers only
   * understand the older `max_tokens`.
   */
  maxTokensField: z.enum(["max_completion_tokens", "max_tokens"]).default("max_completion_tokens"),
});
export type OpenAIProviderOptions = z.input<typeof OpenAIProviderOptionsSchema>;

/**
 * An `LlmProvider` over the official `openai` SDK, for OpenAI and any
 * OpenAI-compatible endpoint. The SDK's retries are off: Flotilla owns
 * retries, and two retry layers multiply load during an outage.
 */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): LlmProvider {
  const o = parseOptions(OpenAIProviderOptionsSchema, options, "openai provider options");
  const name = o.name ?? "openai";
  const client = new OpenAI(sdkClientOptions(o));

  async function complete(request: LlmRequest, call: LlmCallOptions): Promise<LlmResponse> {
    const model = modelOf(name, request.model, o.model);
    const body = toBody(request, model, o.maxTokensField);
    try {
      const result = o.stream
        ? await streamed(client, body, call)
        : await unary(client, body, call.signal);
      const rateLimit = parseRateLimitHeaders(result.headers);
      const requestId = result.requestId ?? result.headers.get("x-request-id") ?? undefined;
      const cost = result.usageReported ? costUsd(result.model, result.usage, o.prices) : undefined;
      return {
        message: result.message,
        usage: result.usage,
        model: result.model,
        finishReason: result.finishReason,
        ...(cost !== undefined && { costUsd: cost }),
        ...(requestId !== undefined && { requestId }),
        rateLimit,
      };
    } catch (err) {
      throw fromSdkError(name, err, call.signal, OPENAI_ERRORS);
    }
  }

  return { name, complete };
}

interface RawResult {
  message: LlmMessage;
  usage: LlmUsage;
  usageReported: boolean;
  model: string;
  finishReason: string;
  headers: Headers;
  requestId: string | undefined;
}

async function unary(
  client: OpenAI,
  body: ChatCompletionCreateParamsBase,
  signal: AbortSignal,
): Promise<RawResult> {
  const { data, response, request_id } = await client.chat.completions
    .create({ ...body, stream: false }, { signal })
    .withResponse();
  const choice = data.choices[0];
  const toolCalls = (choice?.message.tool_calls ?? []).flatMap((c): LlmToolCall[] =>
    c.type === "function"
      ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }]
      : [],
  );
  return {
    message: assistant(choice?.message.content ?? null, toolCalls),
    ...usageOf(data.usage),
    model: data.model,
    finishReason: choice?.finish_reason ?? "unknown",
    headers: response.headers,
    requestId: request_id ?? undefined,
  };
}

async function streamed(
  client: OpenAI,
  body: ChatCompletionCreateParamsBase,
  call: LlmCallOptions,
): Promise<RawResult> {
  const { data, response, request_id } = await client.chat.completions
    .create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      { signal: call.signal },
    )
    .withResponse();
  let text = "";
  let sawText = false;
  let model = body.model;
  let finishReason = "unknown";
  let usage: ChatCompletion["usage"];
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of data as AsyncIterable<ChatCompletionChunk>) {
    // The SDK ends an aborted stream quietly; a cut-off answer must not pass for a whole one.
    call.signal.throwIfAborted();
    model = chunk.model || model;
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.finish_reason) finishReason = choice.finish_reason;
    const delta = choice.delta;
    if (delta.content) {
      sawText = true;
      text += delta.content;
      call.onDelta?.(delta.content);
    }
    for (const d of delta.tool_calls ?? []) {
      const slot = (calls[d.index] ??= { id: "", name: "", arguments: "" });
      if (d.id) slot.id = d.id;
      if (d.function?.name) slot.name += d.function.name;
      if (d.function?.arguments) slot.arguments += d.function.arguments;
    }
  }
  call.signal.throwIfAborted();
  return {
    message: assistant(sawText ? text : null, calls.filter(Boolean)),
    ...usageOf(usage),
    model,
    finishReason,
    headers: response.headers,
    requestId: request_id ?? undefined,
  };
}

function assistant(content: string | null, toolCalls: LlmToolCall[]): LlmMessage {
  return { role: "assistant", content, ...(toolCalls.length > 0 && { toolCalls }) };
}

function usageOf(usage: ChatCompletion["usage"]): { usage: LlmUsage; usageReported: boolean } {
  if (!usage) return { usage: { inputTokens: 0, outputTokens: 0 }, usageReported: false };
  const cached = usage.prompt_tokens_details?.cached_tokens;
  return {
    usage: {
      inputTokens: usage.prompt_tokens,
      outputTokens: usage.completion_tokens,
      ...(cached !== undefined && { cachedInputTokens: cached }),
    },
    usageReported: true,
  };
}

function toBody(
  request: LlmRequest,
  model: string,
  maxTokensField: "max_completion_tokens" | "max_tokens",
): ChatCompletionCreateParamsBase {
  return {
    model,
    messages: request.messages.map(toMessage),
    ...(request.tools &&
      request.tools.length > 0 && {
        tools: request.tools.map((t) => ({
          type: "function" as const,
          function: {
            name: t.name,
            parameters: t.parameters,
            ...(t.description !== undefined && { description: t.description }),
          },
        })),
      }),
    ...(request.maxTokens !== undefined && { [maxTokensField]: request.maxTokens }),
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.responseFormat && {
      // strict: the endpoint guarantees the schema instead of hoping for it.
      response_format: {
        type: "json_schema" as const,
        json_schema: {
          name: request.responseFormat.name,
          schema: request.responseFormat.schema,
          strict: true,
        },
      },
    }),
  };
}

function toMessage(m: LlmMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case "system":
      return { role: "system", content: m.content ?? "" };
    case "user":
      return {
        role: "user",
        content: m.content ?? "",
        ...(m.name !== undefined && { name: m.name }),
      };
    case "tool":
      return { role: "tool", content: m.content ?? "", tool_call_id: m.toolCallId ?? "" };
    case "assistant":
      return {
        role: "assistant",
        content: m.content,
        ...(m.toolCalls &&
          m.toolCalls.length > 0 && {
            tool_calls: m.toolCalls.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: c.arguments },
            })),
          }),
      };
  }
}

const OPENAI_ERRORS: SdkErrorShape = {
  APIError: OpenAI.APIError,
  APIUserAbortError: OpenAI.APIUserAbortError,
  APIConnectionError: OpenAI.APIConnectionError,
  APIConnectionTimeoutError: OpenAI.APIConnectionTimeoutError,
  providerCode: (err) => {
    const e = err as InstanceType<typeof OpenAI.APIError>;
    return e.code ?? e.type ?? undefined;
  },
};
