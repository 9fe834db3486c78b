import { z } from "zod";
import { ProviderError } from "./errors.js";
import { PriceTableSchema } from "./pricing.js";

/** Options every SDK-backed provider accepts. */
export const ProviderOptionsSchema = z.object({
  /** Names the dependency in journals and metrics. Default: the vendor ("openai", "anthropic"). */
  name: z.string().min(1).optional(),
  /** Default: the SDK reads its usual environment variable. */
  apiKey: z.string().min(1).optional(),
  /** Any compatible endpoint: vLLM, Ollama, llama.cpp server, a gateway, the simulator. */
  baseURL: z.url().optional(),
  /** Used when a request leaves `model` empty. */
  model: z.string().min(1).optional(),
  /** USD per million tokens, merged over the built-in table. */
  prices: PriceTableSchema.optional(),
  /** Stream responses (deltas reach `onDelta`). Default false. */
  stream: z.boolean().default(false),
  /** Per-attempt timeout. Default 60 000 ms. */
  timeoutMs: z.number().int().positive().default(60_000),
  /** Extra headers on every request (gateway auth, tenant tags). */
  headers: z.record(z.string(), z.string()).optional(),
});

/** What both official SDK clients are built with: the caller's settings, and retries off (Flotilla owns them). */
export function sdkClientOptions(o: z.output<typeof ProviderOptionsSchema>) {
  return {
    ...(o.apiKey !== undefined && { apiKey: o.apiKey }),
    ...(o.baseURL !== undefined && { baseURL: o.baseURL }),
    ...(o.headers !== undefined && { defaultHeaders: o.headers }),
    maxRetries: 0,
    timeout: o.timeoutMs,
  };
}

/** The model of a request, or the provider's default; neither is a caller error. */
export function modelOf(provider: string, requested: string, fallback: string | undefined): string {
  const model = requested || fallback;
  if (!model) {
    throw new ProviderError(
      { provider, kind: "bad_request" },
      "the request has no model and the provider has no default; set `model` on one of them",
    );
  }
  return model;
}
