import { z } from "zod";
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
