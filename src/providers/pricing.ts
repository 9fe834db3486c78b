import { z } from "zod";
import type { LlmUsage } from "./types.js";

/** USD per million tokens. `cachedInput` is the price of a cache hit. */
export const ModelPriceSchema = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cachedInput: z.number().nonnegative().optional(),
});
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

export const PriceTableSchema = z.record(z.string().min(1), ModelPriceSchema);
export type PriceTable = Record<string, ModelPrice>;

/**
 * List prices as published by the providers when this table was written.
 * They change; pass `prices` to a provider to override or add models
 * (including self-hosted ones, which may well cost 0).
 */
export const DEFAULT_PRICES: Readonly<PriceTable> = {
  "gpt-5": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gpt-5-mini": { input: 0.25, output: 2, cachedInput: 0.025 },
  "gpt-5-nano": { input: 0.05, output: 0.4, cachedInput: 0.005 },
  "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6, cachedInput: 0.1 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4, cachedInput: 0.025 },
  "gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 },
  "gpt-4o-mini": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  o3: { input: 2, output: 8, cachedInput: 0.5 },
  "o3-mini": { input: 1.1, output: 4.4, cachedInput: 0.55 },
  "o4-mini": { input: 1.1, output: 4.4, cachedInput: 0.275 },
  "claude-opus-4-5": { input: 5, output: 25, cachedInput: 0.5 },
  "claude-opus-4-1": { input: 15, output: 75, cachedInput: 1.5 },
  "claude-opus-4": { input: 15, output: 75, cachedInput: 1.5 },
  "claude-sonnet-4-5": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-sonnet-4": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-haiku-4-5": { input: 1, output: 5, cachedInput: 0.1 },
  "claude-3-5-haiku": { input: 0.8, output: 4, cachedInput: 0.08 },
  // The simulated provider's models, priced like a small hosted model so
  // benchmarks report realistic dollar figures.
  "sim-small": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  "sim-large": { input: 2.5, output: 10, cachedInput: 1.25 },
};

/**
 * The price of a model: an exact entry, else the longest entry the id starts
 * with, so dated snapshots ("gpt-4o-2024-08-06", "claude-sonnet-4-5-20250929")
 * find their family. User entries win over defaults.
 */
export function priceFor(model: string, overrides: PriceTable = {}): ModelPrice | undefined {
  const table: PriceTable = { ...DEFAULT_PRICES, ...overrides };
  const exact = table[model];
  if (exact) return exact;
  let best: string | undefined;
  for (const name of Object.keys(table)) {
    if (model.startsWith(`${name}-`) && (best === undefined || name.length > best.length)) {
      best = name;
    }
  }
  return best === undefined ? undefined : table[best];
}

/**
 * Cost of one call in USD. `usage.inputTokens` includes cached tokens; those
 * are charged at the cache price (the input price when none is listed).
 * Undefined when the model has no price, so a missing price never reads as free.
 */
export function costUsd(
  model: string,
  usage: LlmUsage,
  overrides?: PriceTable,
): number | undefined {
  const price = priceFor(model, overrides);
  if (!price) return undefined;
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  const fresh = usage.inputTokens - cached;
  const micro =
    fresh * price.input +
    cached * (price.cachedInput ?? price.input) +
    usage.outputTokens * price.output;
  return micro / 1_000_000;
}
