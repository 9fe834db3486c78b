import { z } from "zod";
import { LatencySchema } from "../latency.js";

const rate = z.number().min(0).max(1);

/**
 * Limits for one API key, per minute; unset means unlimited. Each is a token
 * bucket holding a minute's worth, refilled continuously (see KeyLimits).
 */
export const SimLimitsSchema = z.object({
  /** Requests per minute. */
  rpm: z.number().positive().optional(),
  /** Input + output tokens per minute (OpenAI's single TPM). */
  tpm: z.number().positive().optional(),
  /** Input tokens per minute (Anthropic's ITPM). */
  inputTpm: z.number().positive().optional(),
  /** Output tokens per minute (Anthropic's OTPM). */
  outputTpm: z.number().positive().optional(),
});
export type SimLimits = z.output<typeof SimLimitsSchema>;

export const SimFaultsSchema = z
  .object({
    /** Share of requests answered with an injected 5xx. */
    errorRate: rate.default(0),
    /** Statuses the injected errors use, picked from the seed. */
    errorStatuses: z.array(z.number().int().min(500).max(599)).min(1).default([500, 502, 503]),
    /** Share of requests whose connection is reset before any work. */
    resetRate: rate.default(0),
    /** Share of requests that hang until the client gives up (or `hangMs` passes). */
    timeoutRate: rate.default(0),
    /** Share of requests whose work is done and billed, then the connection drops. */
    lostResponseRate: rate.default(0),
    hangMs: z.number().int().positive().default(120_000),
  })
  .refine((f) => f.errorRate + f.resetRate + f.timeoutRate + f.lostResponseRate <= 1, {
    message: "errorRate + resetRate + timeoutRate + lostResponseRate must not exceed 1",
  });
export type SimFaults = z.output<typeof SimFaultsSchema>;

/**
 * A scripted answer: when the last user message matches `match` (a regular
 * expression; no `match` matches everything), answer with a call to `tool` if
 * the request offers it and is not already answering a tool result, or with
 * `text`.
 */
export const SimRuleSchema = z
  .object({
    match: z.string().refine(isRegExp, { message: "not a valid regular expression" }).optional(),
    tool: z.string().min(1).optional(),
    arguments: z.record(z.string(), z.unknown()).optional(),
    text: z.string().optional(),
  })
  .refine((r) => r.tool !== undefined || r.text !== undefined, {
    message: "a rule needs `tool` or `text`",
  });
export type SimRule = z.output<typeof SimRuleSchema>;

const window = z
  .tuple([z.number().nonnegative(), z.number().nonnegative()])
  .refine(([start, end]) => end > start, { message: "an outage window must end after it starts" });

export const SimProviderOptionsSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  /** 0 picks a free port. */
  port: z.number().int().min(0).max(65_535).default(0),
  /** Every random decision (faults, latency, answers) derives from it. Default 1. */
  seed: z.number().int().default(1),
  latency: LatencySchema.prefault({}),
  /** Pause between streamed chunks, so a test can abort mid-stream. Default 0. */
  streamChunkDelayMs: z.number().nonnegative().default(0),
  /** Limits for every key without its own entry in `keys`. */
  limits: SimLimitsSchema.prefault({}),
  /** Per-API-key limits, replacing `limits` for that key. */
  keys: z.record(z.string(), SimLimitsSchema).default({}),
  faults: SimFaultsSchema.prefault({}),
  /** [startMs, endMs) windows, relative to start (or the last reset), answered with `outageStatus`. */
  outages: z.array(window).default([]),
  outageStatus: z.number().int().min(500).max(599).default(503),
  /** Length of default answers, in tokens (one word is one token). */
  output: z
    .object({
      minTokens: z.number().int().nonnegative().default(8),
      maxTokens: z.number().int().nonnegative().default(48),
    })
    .refine((o) => o.maxTokens >= o.minTokens, {
      message: "maxTokens must be at least minTokens",
      path: ["maxTokens"],
    })
    .prefault({}),
  rules: z.array(SimRuleSchema).default([]),
  /** A repeated prompt prefix at least this long is reported as cached. Default 1024. */
  cacheMinTokens: z.number().int().positive().default(1024),
});
export type SimProviderOptions = z.input<typeof SimProviderOptionsSchema>;
export type SimProviderConfig = z.output<typeof SimProviderOptionsSchema>;

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
