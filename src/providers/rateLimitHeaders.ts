import type { RateLimitState } from "./types.js";

/** A fetch `Headers`, or a plain record such as Node's `IncomingHttpHeaders`. */
export type HeadersLike =
  { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function reader(headers: HeadersLike): (name: string) => string | undefined {
  if (typeof headers.get === "function") {
    const h = headers as { get(name: string): string | null };
    return (name) => h.get(name) ?? undefined;
  }
  const lower = new Map(
    Object.entries(headers as Record<string, string | string[] | undefined>).map(([k, v]) => [
      k.toLowerCase(),
      Array.isArray(v) ? v[0] : v,
    ]),
  );
  return (name) => lower.get(name);
}

const DURATION =
  /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;

/**
 * Parses OpenAI's reset durations ("1s", "6m0s", "20ms", "1h2m3.5s"). A bare
 * number is taken as seconds. Returns undefined for anything else.
 */
export function parseResetDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const m = DURATION.exec(trimmed);
  if (!m) return undefined;
  const [, h, min, s, ms] = m;
  const total =
    Number(h ?? 0) * 3_600_000 +
    Number(min ?? 0) * 60_000 +
    Number(s ?? 0) * 1000 +
    Number(ms ?? 0);
  return Math.round(total);
}

/** Formats milliseconds the way OpenAI does, so the simulator's headers look real. */
export function formatResetDuration(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  if (whole < 1000) return `${whole}ms`;
  const h = Math.floor(whole / 3_600_000);
  const m = Math.floor((whole % 3_600_000) / 60_000);
  const s = (whole % 60_000) / 1000;
  const seconds = `${Number(s.toFixed(3))}s`;
  if (h > 0) return `${h}h${m}m${seconds}`;
  if (m > 0) return `${m}m${seconds}`;
  return seconds;
}

/** `retry-after`: delay-seconds (integer or decimal) or an HTTP-date. */
export function parseRetryAfter(text: string, now: number): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function parseTimestamp(text: string, now: number): number | undefined {
  const at = Date.parse(text.trim());
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function parseCount(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Reads what a provider said about its limits: OpenAI's
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, Anthropic's
 * `anthropic-ratelimit-*` (RFC 3339 resets), and `retry-after-ms` /
 * `retry-after`. Unknown or malformed headers are ignored, never thrown on:
 * a gateway that mangles one header must not fail the call. `now` turns
 * absolute timestamps into delays.
 */
export function parseRateLimitHeaders(headers: HeadersLike, now = Date.now()): RateLimitState {
  const get = reader(headers);
  const state: RateLimitState = {};
  const set = <K extends keyof RateLimitState>(key: K, value: number | undefined): void => {
    if (value !== undefined && state[key] === undefined) state[key] = value;
  };
  const duration = (name: string): number | undefined => {
    const v = get(name);
    return v === undefined ? undefined : parseResetDuration(v);
  };
  const timestamp = (name: string): number | undefined => {
    const v = get(name);
    return v === undefined ? undefined : parseTimestamp(v, now);
  };

  set("limitRequests", parseCount(get("x-ratelimit-limit-requests")));
  set("remainingRequests", parseCount(get("x-ratelimit-remaining-requests")));
  set("resetRequestsMs", duration("x-ratelimit-reset-requests"));
  set("limitTokens", parseCount(get("x-ratelimit-limit-tokens")));
  set("remainingTokens", parseCount(get("x-ratelimit-remaining-tokens")));
  set("resetTokensMs", duration("x-ratelimit-reset-tokens"));

  const a = "anthropic-ratelimit-";
  set("limitRequests", parseCount(get(`${a}requests-limit`)));
  set("remainingRequests", parseCount(get(`${a}requests-remaining`)));
  set("resetRequestsMs", timestamp(`${a}requests-reset`));
  set("limitTokens", parseCount(get(`${a}tokens-limit`)));
  set("remainingTokens", parseCount(get(`${a}tokens-remaining`)));
  set("limitInputTokens", parseCount(get(`${a}input-tokens-limit`)));
  set("remainingInputTokens", parseCount(get(`${a}input-tokens-remaining`)));
  set("limitOutputTokens", parseCount(get(`${a}output-tokens-limit`)));
  set("remainingOutputTokens", parseCount(get(`${a}output-tokens-remaining`)));
  // Without a combined tokens reset, wait for the later of the input and
  // output resets: a scheduler that waits too little just gets another 429.
  const inputReset = timestamp(`${a}input-tokens-reset`);
  const outputReset = timestamp(`${a}output-tokens-reset`);
  const split = [inputReset, outputReset].filter((v): v is number => v !== undefined);
  set("resetTokensMs", timestamp(`${a}tokens-reset`));
  set("resetTokensMs", split.length > 0 ? Math.max(...split) : undefined);

  const retryAfterMs = parseCount(get("retry-after-ms"));
  const retryAfter = get("retry-after");
  set("retryAfterMs", retryAfterMs);
  set("retryAfterMs", retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, now));
  return state;
}
