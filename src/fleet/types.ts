import type { LlmUsage, RateLimitState } from "../providers/types.js";

/**
 * Admission control for calls to a shared dependency (an LLM provider/model/
 * key, or a rate-limited tool). The runtime asks before every attempt and
 * reports what happened after it, so limits are kept fleet-wide.
 */
export interface AdmissionRequest {
  /** e.g. "openai:gpt-4o-mini:key-1" */
  dependency: string;
  tenant: string;
  /** Higher first within a tenant. Default 0. */
  priority?: number;
  /** Reserved before the call, reconciled with real usage after. */
  estimate: { inputTokens: number; outputTokens: number };
}

export type AttemptOutcome = "ok" | "rate_limited" | "timeout" | "error";

export interface Permit {
  /** How long this request queued before it was admitted. */
  readonly waitedMs: number;
  /** Reports real usage and the provider's rate-limit headers; releases the slot. */
  release(result: { outcome: AttemptOutcome; usage?: LlmUsage; rateLimit?: RateLimitState }): void;
}

export interface Admission {
  /** Resolves when the call may start; rejects with the signal's reason when aborted. */
  acquire(request: AdmissionRequest, signal: AbortSignal): Promise<Permit>;
}
