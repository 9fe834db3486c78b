import {
  EscalatedError,
  RefusedError,
  ValidationFailedError,
  isFlotillaError,
  messageOf,
} from "../core/errors.js";
import type { BudgetReserver } from "../deadletter/budgets.js";
import { canonicalJson, sha256 } from "../core/json.js";
import type { Admission, AttemptOutcome } from "../fleet/types.js";
import { isProviderError, type ProviderError } from "../providers/errors.js";
import type { LlmProvider, LlmRequest, LlmResponse, RateLimitState } from "../providers/types.js";
import type { Dependency } from "../resilience/Dependency.js";
import { throughOutages, type OutageWait } from "../resilience/outage.js";
import type { Resilience } from "../resilience/Resilience.js";
import { throughBulkheads, type ToolRunHost } from "../effects/runTool.js";
import { countAttempt } from "../telemetry/Telemetry.js";

/** Where an answer came from, and whether it is the answer that was asked for. */
export interface Provenance {
  degraded: boolean;
  /** Why the answer is degraded (the primary's failure), when it is. */
  reason?: string;
  /** "primary", "fallback:<provider>:<model>" or "stale-cache". */
  source: string;
  stalenessMs?: number;
}

export interface LlmResult extends LlmResponse {
  provenance: Provenance;
  /** With `output`: the answer parsed and validated. */
  parsed?: unknown;
  /** Upstream attempts this call took (transient retries included). */
  attempts: number;
  /** Answers sampled because earlier ones failed validation. */
  samples: number;
}

/**
 * What to do when the dependency cannot answer after its retries:
 * fail closed (`refuse`: a typed error, never a guess; `escalate`: park the
 * run for a human) or fail open (`fallback` to other models/providers, or a
 * `stale` answer to the same request no older than `maxAgeMs`).
 */
export type OnFailure =
  | "refuse"
  | "escalate"
  | { fallback: { provider?: string; model?: string }[] }
  | { stale: { maxAgeMs: number } };

export interface LlmPolicy {
  provider?: string;
  onFailure?: OnFailure;
  /** Validates the answer (JSON in the message content); failures re-sample. */
  output?: { parse(value: unknown): unknown };
  /** Answers to draw before giving up on validation. Default 1 (3 when `output` is set). */
  samples?: number;
  /** A partition signal from the caller: an answer that is not relevant counts as a failure. */
  relevant?: (response: LlmResponse) => boolean;
}

export interface LlmHost extends Pick<ToolRunHost, "tenantBulkhead" | "telemetry"> {
  provider(name?: string): LlmProvider;
  readonly resilience: Resilience;
  readonly admission: Admission | undefined;
  readonly staleAnswers: Map<string, { response: LlmResponse; at: number }>;
  readonly clock: { now(): number };
}

const STALE_LIMIT = 1_000;

function outcomeOf(err: unknown): AttemptOutcome {
  if (isProviderError(err, "rate_limited")) return "rate_limited";
  if (isProviderError(err, "timeout")) return "timeout";
  return "error";
}

/** What a failed call said about the provider's limits (retry-after included), for admission control. */
function rateLimitOf(err: unknown): { rateLimit?: RateLimitState } {
  if (!isProviderError(err)) return {};
  const { rateLimit, retryAfterMs } = err as ProviderError;
  if (!rateLimit && retryAfterMs === undefined) return {};
  return { rateLimit: { ...rateLimit, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } };
}

function estimateTokens(request: LlmRequest): { inputTokens: number; outputTokens: number } {
  const chars = request.messages.reduce((n, m) => n + (m.content?.length ?? 0), 0);
  return { inputTokens: Math.ceil(chars / 4), outputTokens: request.maxTokens ?? 512 };
}

/** One logical LLM call: admission, retries under budget and breaker, sampling, then the failure policy. */
/** Where a call runs: its signal and deadline, its tenant, and the budget it draws from. */
export interface CallScope {
  signal: AbortSignal;
  deadline: number | undefined;
  tenant: string;
  budget?: BudgetReserver;
  /**
   * Stands for the request in the stale-answer cache (e.g. its parameters and
   * the head of its message chain), so the key costs nothing per message.
   * Default: the request's canonical JSON. Asked only under a `stale` policy.
   */
  requestDigest?: () => string;
  /** How the call waits out its provider's outage when it has no `onFailure` policy; undefined: it fails. */
  outage?: OutageWait | undefined;
}

export async function callLlm(
  host: LlmHost,
  request: LlmRequest,
  policy: LlmPolicy,
  ctx: CallScope,
): Promise<LlmResult> {
  const candidates: { provider?: string; model: string; source: string }[] = [
    {
      ...(policy.provider !== undefined ? { provider: policy.provider } : {}),
      model: request.model,
      source: "primary",
    },
  ];
  const failure = policy.onFailure;
  if (failure && typeof failure === "object" && "fallback" in failure) {
    for (const f of failure.fallback) {
      const provider = host.provider(f.provider ?? policy.provider);
      candidates.push({
        ...f,
        model: f.model ?? request.model,
        source: `fallback:${provider.name}:${f.model ?? request.model}`,
      });
    }
  }
  // Only a stale policy reads the cache, so only it pays for the key and the copy.
  const stale = failure && typeof failure === "object" && "stale" in failure ? failure.stale : null;
  const cacheKey = stale ? staleKey(policy, request, ctx) : undefined;
  let firstError: unknown;
  for (const c of candidates) {
    try {
      const call = () => sampleValid(host, { ...request, model: c.model }, c.provider, policy, ctx);
      // With no policy for failure, a provider that is down is waited for, not given up on.
      const result =
        failure === undefined && ctx.outage
          ? await throughOutages(dependencyOf(host, c.provider, c.model), call, ctx.outage)
          : await call();
      if (c.source === "primary" && cacheKey !== undefined) remember(host, cacheKey, result);
      const provenance: Provenance =
        c.source === "primary"
          ? { degraded: false, source: "primary" }
          : { degraded: true, reason: messageOf(firstError), source: c.source };
      return { ...result, provenance };
    } catch (err) {
      // An exhausted budget is final: a fallback model would be refused by the same budget.
      if (ctx.signal.aborted || isFlotillaError(err, "FLOTILLA_BUDGET_EXHAUSTED")) throw err;
      firstError ??= err;
    }
  }
  const dependency = `${host.provider(policy.provider).name}:${request.model}`;
  if (failure === "refuse") throw new RefusedError(dependency, firstError);
  if (failure === "escalate") throw new EscalatedError(dependency, firstError);
  if (stale && cacheKey !== undefined) {
    const hit = host.staleAnswers.get(cacheKey);
    const age = hit ? host.clock.now() - hit.at : Infinity;
    if (hit && age <= stale.maxAgeMs) {
      return {
        ...hit.response,
        attempts: 0,
        samples: 0,
        provenance: {
          degraded: true,
          reason: messageOf(firstError),
          source: "stale-cache",
          stalenessMs: age,
        },
      };
    }
  }
  throw firstError;
}

/** The cache key of a request: a digest, so a long conversation's key stays 64 characters. */
function staleKey(policy: LlmPolicy, request: LlmRequest, ctx: CallScope): string {
  const subject = ctx.requestDigest ? ctx.requestDigest() : request;
  return sha256(canonicalJson({ provider: policy.provider ?? null, request: subject })).toString(
    "hex",
  );
}

function remember(host: LlmHost, key: string, response: LlmResponse): void {
  const { message, usage, model, finishReason } = response;
  host.staleAnswers.delete(key);
  host.staleAnswers.set(key, {
    response: { message, usage, model, finishReason },
    at: host.clock.now(),
  });
  if (host.staleAnswers.size > STALE_LIMIT)
    host.staleAnswers.delete(host.staleAnswers.keys().next().value as string);
}

/** The retry owner of one provider and model. */
function dependencyOf(host: LlmHost, providerName: string | undefined, model: string): Dependency {
  return host.resilience.dependency(`${host.provider(providerName).name}:${model}`);
}

async function sampleValid(
  host: LlmHost,
  request: LlmRequest,
  providerName: string | undefined,
  policy: LlmPolicy,
  ctx: CallScope,
): Promise<Omit<LlmResult, "provenance">> {
  const provider = host.provider(providerName);
  const dependency = dependencyOf(host, providerName, request.model);
  const maxSamples = policy.samples ?? (policy.output ? 3 : 1);
  let attempts = 0;
  let problem = "";
  for (let sample = 1; sample <= maxSamples; sample++) {
    const tenantBulkhead = host.tenantBulkhead(ctx.tenant);
    const { value: response, attempts: n } = await dependency.execute(
      () =>
        throughBulkheads(
          [tenantBulkhead],
          async () => {
            // Worst case reserved before the attempt, so concurrent calls cannot overspend together.
            const held = await ctx.budget?.reserve(request);
            const permit = await host.admission
              ?.acquire(
                {
                  dependency: dependency.name,
                  tenant: ctx.tenant,
                  estimate: estimateTokens(request),
                },
                ctx.signal,
              )
              .catch(async (err: unknown) => {
                await held?.settle(undefined);
                throw err;
              });
            // A signal per attempt: SDKs attach listeners to it, and a run makes many calls.
            const attempt = new AbortController();
            const onAbort = () => attempt.abort(ctx.signal.reason);
            ctx.signal.addEventListener("abort", onAbort, { once: true });
            try {
              const r = await countAttempt(
                host.telemetry,
                dependency.name,
                provider.complete(request, { signal: attempt.signal }),
              );
              await held?.settle(r);
              permit?.release({
                outcome: "ok",
                usage: r.usage,
                ...(r.rateLimit ? { rateLimit: r.rateLimit } : {}),
              });
              if (policy.relevant && !policy.relevant(r))
                throw new Error("the answer failed the caller's relevance check");
              return r;
            } catch (err) {
              await held?.settle(undefined);
              permit?.release({ outcome: outcomeOf(err), ...rateLimitOf(err) });
              throw err;
            } finally {
              ctx.signal.removeEventListener("abort", onAbort);
            }
          },
          ctx.signal,
        ),
      { signal: ctx.signal, deadline: ctx.deadline, retryable: true },
    );
    attempts += n;
    if (!policy.output) return { ...response, attempts, samples: sample };
    try {
      const parsed = policy.output.parse(JSON.parse(response.message.content ?? ""));
      return { ...response, parsed, attempts, samples: sample };
    } catch (err) {
      problem = messageOf(err);
    }
  }
  throw new ValidationFailedError(`'${dependency.name}'`, maxSamples, problem);
}
