/**
 * The provider interface the runtime calls for `ctx.llm`. Adapters for the
 * official OpenAI and Anthropic SDKs implement it; so can a test double.
 * Shapes are provider-neutral and JSON-safe, because requests and responses
 * are journaled.
 */
export interface LlmToolCall {
  id: string;
  name: string;
  /** The arguments as the model produced them: a JSON string. */
  arguments: string;
}

export interface LlmMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  toolCalls?: LlmToolCall[];
  /** For role "tool": the id of the call this answers. */
  toolCallId?: string;
  name?: string;
}

export interface LlmToolSpec {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

export interface LlmRequest {
  model: string;
  messages: LlmMessage[];
  tools?: LlmToolSpec[];
  maxTokens?: number;
  temperature?: number;
  /** Structured output: the answer must be JSON matching this schema. */
  responseFormat?: { name: string; schema: Record<string, unknown> };
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
}

/** What the provider said about its limits on this response (all optional). */
export interface RateLimitState {
  limitRequests?: number;
  remainingRequests?: number;
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
  limitInputTokens?: number;
  remainingInputTokens?: number;
  limitOutputTokens?: number;
  remainingOutputTokens?: number;
  retryAfterMs?: number;
}

export interface LlmResponse {
  message: LlmMessage;
  usage: LlmUsage;
  model: string;
  finishReason: string;
  costUsd?: number;
  requestId?: string;
  rateLimit?: RateLimitState;
}

export interface LlmCallOptions {
  signal: AbortSignal;
  /** Called with each text delta when the adapter streams. */
  onDelta?: (text: string) => void;
}

export interface LlmProvider {
  /** Names the dependency in journals and metrics, e.g. "openai" or "sim". */
  readonly name: string;
  complete(request: LlmRequest, options: LlmCallOptions): Promise<LlmResponse>;
}
