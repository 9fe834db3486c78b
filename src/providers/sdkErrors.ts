import { ProviderError, classifyHttpError } from "./errors.js";
import { parseRateLimitHeaders } from "./rateLimitHeaders.js";

type ErrorClass = abstract new (...args: never[]) => Error;

/** The error classes both official SDKs export, and how to read a provider code from one. */
export interface SdkErrorShape {
  APIError: ErrorClass;
  APIUserAbortError: ErrorClass;
  APIConnectionError: ErrorClass;
  APIConnectionTimeoutError: ErrorClass;
  providerCode(err: Error): string | undefined;
}

interface ApiErrorFields {
  status?: number | undefined;
  headers?: Headers | undefined;
  requestID?: string | null | undefined;
}

/** Socket-level failures that can surface mid-stream as plain errors. */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNREFUSED",
  "UND_ERR_SOCKET",
  "ETIMEDOUT",
]);

function isNetworkFailure(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  if (err.name === "TypeError" && /terminated|fetch failed|other side closed/i.test(err.message)) {
    return true;
  }
  return isNetworkFailure(err.cause, depth + 1);
}

/**
 * Turns whatever an SDK call threw into a `ProviderError`. An abort is
 * checked first: once the caller's signal fired, any failure is the abort,
 * whatever shape the SDK gave it.
 */
export function fromSdkError(
  provider: string,
  err: unknown,
  signal: AbortSignal,
  sdk: SdkErrorShape,
): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal.aborted || err instanceof sdk.APIUserAbortError) {
    return new ProviderError({ provider, kind: "aborted" }, "the call was aborted", {
      cause: signal.reason ?? err,
    });
  }
  if (err instanceof sdk.APIConnectionTimeoutError) {
    return new ProviderError({ provider, kind: "timeout" }, "the request timed out", {
      cause: err,
    });
  }
  if (err instanceof sdk.APIConnectionError || isNetworkFailure(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return new ProviderError({ provider, kind: "connection" }, `connection failed: ${message}`, {
      cause: err,
    });
  }
  if (err instanceof sdk.APIError) {
    const api = err as Error & ApiErrorFields;
    if (api.status !== undefined) {
      const rateLimit = api.headers ? parseRateLimitHeaders(api.headers) : undefined;
      const providerCode = sdk.providerCode(err);
      return new ProviderError(
        {
          provider,
          kind: classifyHttpError(api.status, providerCode, err.message),
          status: api.status,
          providerCode,
          requestId: api.requestID ?? undefined,
          retryAfterMs: rateLimit?.retryAfterMs,
          rateLimit,
        },
        err.message,
        { cause: err },
      );
    }
  }
  return new ProviderError(
    { provider, kind: "unknown" },
    `unexpected failure: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}
