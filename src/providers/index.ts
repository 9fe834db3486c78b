export { createOpenAIProvider, type OpenAIProviderOptions } from "./openai.js";
export { createAnthropicProvider, type AnthropicProviderOptions } from "./anthropic.js";
export { connectMcpTools, type McpTools, type McpToolsOptions, type McpToolSpec } from "./mcp.js";
export { ProviderError, isProviderError, type ProviderErrorKind } from "./errors.js";
export { DEFAULT_PRICES, costUsd, type PriceTable } from "./pricing.js";
export { parseRateLimitHeaders } from "./rateLimitHeaders.js";
