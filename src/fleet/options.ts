import { z } from "zod";

const perMinute = z.number().positive().optional();

/** Limits of one dependency (a provider/model/key, or a rate-limited tool). Unset means unlimited. */
export const DependencyLimitsSchema = z.object({
  /** Requests per minute. */
  rpm: perMinute,
  /** Input + output tokens per minute (OpenAI's single TPM). */
  tpm: perMinute,
  /** Input tokens per minute (Anthropic's ITPM). */
  inputTpm: perMinute,
  /** Output tokens per minute (Anthropic's OTPM). */
  outputTpm: perMinute,
  /** Upper bound of adaptive concurrency. Default 64. */
  maxConcurrency: z.number().int().positive().default(64),
  /** Lower bound of adaptive concurrency. Default 1. */
  minConcurrency: z.number().int().positive().default(1),
  /** Where adaptive concurrency starts. Default: maxConcurrency. */
  initialConcurrency: z.number().int().positive().optional(),
});
export type DependencyLimitsInput = z.input<typeof DependencyLimitsSchema>;
export type DependencyLimits = z.output<typeof DependencyLimitsSchema>;

export const FleetOptionsSchema = z.object({
  /**
   * Limits by dependency name (`"openai:gpt-4o-mini"`). A key ending in `*`
   * matches by prefix; the longest match wins. Dependencies with no match get
   * `defaults`.
   */
  dependencies: z.record(z.string().min(1), DependencyLimitsSchema).default({}),
  defaults: DependencyLimitsSchema.prefault({}),
  /** Weights for weighted fair queuing between tenants. Unlisted tenants weigh 1. */
  tenantWeights: z.record(z.string(), z.number().positive()).default({}),
  /**
   * Caps how far ahead of its smooth rate a dependency may run, in ms of its
   * budget (at 60/min, 5000 lets 5 calls go at once). Default: no cap — a
   * bucket the provider's rate-limit headers report may be drawn on as far
   * as its `remaining` says (less 2% headroom); one they do not report is
   * paced smoothly. Set it when the provider enforces a finer window than it
   * reports (a 60/min limit enforced as 1/s); 0 always paces smoothly.
   */
  burstMs: z.number().nonnegative().optional(),
  /**
   * Wake-ups after a wait are spread over this many ms, so processes sharing
   * a limiter do not all retry it in the same millisecond. Default 20.
   */
  jitterMs: z.number().nonnegative().default(20),
  /** AIMD: factor applied on a 429 or timeout. Default 0.9. */
  decrease: z.number().gt(0).lt(1).default(0.9),
  /** AIMD: added on a success while saturated. Default 1. */
  increase: z.number().positive().default(1),
});
export type FleetOptions = z.input<typeof FleetOptionsSchema>;
export type FleetConfig = z.output<typeof FleetOptionsSchema>;

/** The limits configured for `dependency`: exact key, else longest `prefix*`, else defaults. */
export function limitsFor(config: FleetConfig, dependency: string): DependencyLimits {
  const exact = config.dependencies[dependency];
  if (exact) return exact;
  let best: { length: number; limits: DependencyLimits } | undefined;
  for (const [key, limits] of Object.entries(config.dependencies)) {
    if (!key.endsWith("*")) continue;
    const prefix = key.slice(0, -1);
    if (dependency.startsWith(prefix) && (!best || prefix.length > best.length))
      best = { length: prefix.length, limits };
  }
  return best?.limits ?? config.defaults;
}
