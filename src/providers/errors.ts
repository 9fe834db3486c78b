import { FlotillaError, isFlotillaError } from "../core/errors.js";
import type { RateLimitState } from "./types.js";

/**
 * Why a provider call failed, decided once here so the retry layer branches
 * on a kind instead of re-reading status codes and message text.
 */
export type ProviderErrorKind =
  | "rate_limited"
  | "server"
  | "timeout"
  | "connection"
  | "bad_request"
  | "auth"
  | "quota"
  | "context_length"
  | "content_policy"
  | "not_found"
  | "tool_error"
  | "aborted"
  | "unknown";

/** Kinds where the same request may succeed if sent again later. */
const TRANSIENT: ReadonlySet<ProviderErrorKind> = new Set([
  "rate_limited",
  "server",
  "timeout",
  "connection",
]);

export interface ProviderErrorFacts {
  provider: string;
  kind: ProviderErrorKind;
  status?: number | undefined;
  providerCode?: string | undefined;
  requestId?: string | undefined;
  retryAfterMs?: number | undefined;
  rateLimit?: RateLimitState | undefined;
}

export class ProviderError extends FlotillaError {
  readonly provider: string;
  readonly kind: ProviderErrorKind;
  readonly status: number | undefined;
  readonly providerCode: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly rateLimit: RateLimitState | undefined;

  constructor(facts: ProviderErrorFacts, message: string, options?: ErrorOptions) {
    // The facts are duplicated into `details` because only `details` survives
    // serialization into the journal.
    super(
      "FLOTILLA_PROVIDER_ERROR",
      `${facts.provider}: ${message}`,
      dropUndefined({ ...facts }),
      options,
    );
    this.provider = facts.provider;
    this.kind = facts.kind;
    this.status = facts.status;
    this.providerCode = facts.providerCode;
    this.requestId = facts.requestId;
    this.retryAfterMs = facts.retryAfterMs;
    this.rateLimit = facts.rateLimit;
  }

  /** True when sending the same request again could succeed (429, 5xx, timeouts, resets). */
  get transient(): boolean {
    return TRANSIENT.has(this.kind);
  }
}

/** Brand check (not `instanceof`), so it holds across module copies and journal round trips. */
export function isProviderError(err: unknown, kind?: ProviderErrorKind): boolean {
  if (!isFlotillaError(err, "FLOTILLA_PROVIDER_ERROR")) return false;
  return kind === undefined || err.details.kind === kind;
}

const QUOTA = /insufficient_quota|billing|credit balance|quota/i;
const CONTEXT = /context_length|context length|context window|prompt is too long|too many tokens/i;
const POLICY = /content_policy|content_filter|content policy|safety system/i;

/**
 * Classifies an HTTP error response. `code` and `message` come from the
 * provider's error body; both OpenAI and Anthropic put the telling detail
 * (quota vs. rate limit, context length) there rather than in the status.
 */
export function classifyHttpError(
  status: number,
  code: string | undefined,
  message: string,
): ProviderErrorKind {
  const text = `${code ?? ""} ${message}`;
  if (status === 429) return QUOTA.test(code ?? "") ? "quota" : "rate_limited";
  if (status === 408) return "timeout";
  // OpenAI answers 409 for a lock conflict that clears on its own; its SDK
  // retries it too.
  if (status === 409 || status >= 500) return "server";
  if (status === 401 || status === 403) return "auth";
  if (status === 402) return "quota";
  if (status === 404) return "not_found";
  if (CONTEXT.test(text)) return "context_length";
  if (POLICY.test(text)) return "content_policy";
  if (QUOTA.test(text)) return "quota";
  if (status >= 400) return "bad_request";
  return "unknown";
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
