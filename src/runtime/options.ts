import { z } from "zod";
import type { Clock } from "../core/clock.js";
import { InvalidArgumentError, isFlotillaError, messageOf } from "../core/errors.js";
import { describeValue, describeZodError, parseOptions } from "../core/validate.js";
import type { CancelRunOptions } from "../saga/cancelRun.js";
import type { EffectDecision } from "../effects/resolve.js";
import type { RetryOptions } from "./retryRun.js";
import { storableCopy } from "../core/payload.js";
import {
  BudgetLimitsSchema,
  BudgetsOptionsSchema,
  type BudgetLimits,
  type BudgetsOptions,
} from "../deadletter/budgets.js";
import { RoutesSchema, type Routes } from "../deadletter/routes.js";
import type { Admission } from "../fleet/types.js";
import type { LlmProvider } from "../providers/types.js";
import type { ResilienceOptions } from "../resilience/Resilience.js";
import type { Store } from "../store/types.js";
import { RedactOptionsSchema, type RedactOptions } from "../telemetry/redaction/options.js";
import type { TracerProvider } from "@opentelemetry/api";
import { workerOptionsSchema, type WorkerOptions } from "./workerOptions.js";

/**
 * Flotilla.open's options. Strict: a key it does not know (`workers` for
 * `worker`, a misspelt default) is refused by name, never silently ignored.
 * Objects that are the caller's own implementations (a store, providers, an
 * admission, a tracer provider) are checked for the methods used, not for
 * their other members.
 */
export const optionsSchema = z.strictObject({
  store: z.union([z.string().min(1), z.object({ commit: z.function() }).loose()]).optional(),
  providers: z
    .record(z.string(), z.object({ name: z.string(), complete: z.function() }).loose())
    .optional(),
  clock: z
    .object({ now: z.function(), sleep: z.function() }, { error: "must be a Clock { now, sleep }" })
    .loose()
    .optional(),
  workerId: z.string().min(1).optional(),
  poolSize: z.number().int().min(1).max(1_000).optional(),
  inlineSleepMs: z.number().min(0).optional(),
  inlineWaitMs: z.number().min(0).optional(),
  outageWaitMs: z.number().min(0).optional(),
  stopGraceMs: z.number().min(0).optional(),
  // Checked here, not when the worker first starts: a bad worker option must fail open(), not a later start().
  worker: z.union([z.literal(false), workerOptionsSchema]).optional(),
  // The policies themselves are checked by Resilience, which names the dependency.
  resilience: z
    .strictObject({
      defaults: z.unknown().optional(),
      dependencies: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  admission: z.object({ acquire: z.function() }).loose().optional(),
  tenantBulkhead: z
    .strictObject({
      concurrency: z.number().int().min(1),
      queue: z.number().int().min(0).optional(),
    })
    .optional(),
  budgets: BudgetsOptionsSchema.optional(),
  deadLetters: z.strictObject({ routes: RoutesSchema.optional() }).optional(),
  redact: RedactOptionsSchema.optional(),
  tracerProvider: z
    .object({ getTracer: z.function() }, { error: "must be an OpenTelemetry TracerProvider" })
    .loose()
    .optional(),
});

export interface FlotillaOptions {
  /** A store URL (`postgres://…`, a SQLite path) or an open Store. Default `./.flotilla/flotilla.db`. */
  store?: string | Store;
  /** LLM providers by name; `ctx.llm` uses "default", or the only one given. */
  providers?: Record<string, LlmProvider>;
  clock?: Clock;
  /** Names this process in leases and journals. Default: host:pid:random. */
  workerId?: string;
  /**
   * PostgreSQL connections this process may open (LISTEN excluded). Default:
   * the in-process worker's concurrency + 4, at least 10 and at most 64.
   */
  poolSize?: number;
  /** Sleeps up to this long are waited in-process; longer ones release the worker. Default 2 s. */
  inlineSleepMs?: number;
  /**
   * A `ctx.spawn` or `ctx.waitFor` is waited in-process for up to this long,
   * keeping the worker slot (never one its children need), so a child or a
   * signal that comes soon resumes the run without replaying it; longer waits
   * suspend the run. 0 suspends at once. Default 5 s.
   */
  inlineWaitMs?: number;
  /**
   * An LLM call refused because its provider is down (breaker open, retries
   * or retry budget spent on transient failures, throttled) waits for it to
   * recover instead of failing its run: in memory for a while, then
   * suspended with its worker slot released, and tried again at the
   * breaker's next probe or once it has recovered. It waits until the run's
   * deadline, and at most this long from when it first met the outage; then it fails
   * with FLOTILLA_DEPENDENCY_UNAVAILABLE. A call with an `onFailure` policy
   * follows that policy instead. 0 fails at once. Default 1 h.
   */
  outageWaitMs?: number;
  /** How long a cancelled or parked run may take to unwind. Default 10 s. */
  stopGraceMs?: number;
  /** Options of the in-process worker started by `start()`, or `false` for none. */
  worker?: WorkerOptions | false;
  /** Retry, budget and breaker policy per dependency. */
  resilience?: ResilienceOptions;
  /** Fleet admission control consulted before every LLM attempt. */
  admission?: Admission;
  /** Isolates tenants: each may have this many LLM/tool calls in flight, and this many queued. */
  tenantBulkhead?: { concurrency: number; queue?: number };
  /**
   * Budgets: `run` (default for runs started without one), `tenants`,
   * `global`; USD and tokens are reserved at worst case before each LLM call
   * and shared by a run's children. None by default.
   */
  budgets?: BudgetsOptions;
  /** What happens to new dead letters, per class. Default: every class is held for a human. */
  deadLetters?: { routes?: Routes };
  /**
   * Secrets replaced by `[REDACTED:<kind>]` before any payload is stored
   * (tool arguments and results, step values, LLM messages, run inputs and
   * results, signals, errors, dead letters) or put on a span. Agent code
   * sees step results as stored, on the first execution and on replay
   * alike; tools and providers still receive the real arguments. Default:
   * the built-in patterns (API keys, bearer tokens, card numbers); `false`
   * stores payloads as they are.
   */
  redact?: RedactOptions | false;
  /**
   * Where spans go (`invoke_agent`, `chat`, `execute_tool`). Default: the
   * provider registered globally with `@opentelemetry/api` (none: no spans).
   */
  tracerProvider?: TracerProvider;
}

export interface StartOptions {
  /** Starting twice with the same key returns the same run. */
  idempotencyKey?: string;
  tenant?: string;
  /** The run (and its children) must finish within this many ms; no attempt starts after. */
  deadlineMs?: number;
  /** Limits for the run and its children together (default: `budgets.run` of Flotilla.open). */
  budget?: BudgetLimits;
}

const startOptionsSchema = z.strictObject({
  idempotencyKey: z.string().min(1).optional(),
  tenant: z.string().min(1).optional(),
  deadlineMs: z
    .number()
    .positive()
    .max(2 ** 53 / 2)
    .optional(),
  budget: BudgetLimitsSchema.optional(),
});

/** Checks `flotilla.start`'s options; an unknown key is refused by name. */
export function parseStartOptions(options: unknown): StartOptions {
  // None given: parsing the empty default could only return an empty object.
  if (options === undefined) return {};
  return parseOptions(startOptionsSchema, options, "start options") as StartOptions;
}

/**
 * Agent options. `version` and `compatibleWith` are checked by defineAgent
 * itself; here they are only known keys.
 */
const agentOptionsSchema = z.strictObject({
  schema: z
    .object({ parse: z.function() }, { error: "must have a parse(value) method" })
    .loose()
    .optional(),
  loops: z.unknown().optional(),
  version: z.unknown().optional(),
  compatibleWith: z.unknown().optional(),
});

/** Checks `flotilla.agent`'s options object; an unknown key is refused by name. */
export function parseAgentOptions(name: string, options: unknown): void {
  parseOptions(agentOptionsSchema, options, `agent '${name}' options`);
}

/**
 * A run's input as the agent's schema parses it. A refusal is
 * FLOTILLA_INVALID_ARGUMENT naming the agent and what was wrong, whatever
 * the schema threw (a ZodError, a custom parser's own error).
 */
export function parseAgentInput<I>(
  agent: string,
  schema: { parse(value: unknown): I },
  input: unknown,
): I {
  try {
    return schema.parse(input);
  } catch (err) {
    if (isFlotillaError(err)) throw err;
    const detail = err instanceof z.ZodError ? describeZodError(err) : messageOf(err);
    throw new InvalidArgumentError(`agent '${agent}' input: ${detail}`, { agent, field: "input" });
  }
}

/** Text that both stores keep as given: PostgreSQL refuses U+0000 in text, so SQLite must too. */
/**
 * Text both stores keep exactly as given: PostgreSQL refuses U+0000, and an
 * unpaired surrogate cannot be encoded as UTF-8 (SQLite turns it into U+FFFD,
 * so a signal name sent that way would never match its waitFor).
 */
function storableString(s: string): boolean {
  return !s.includes("\0") && !/\p{Cs}/u.test(s);
}

const storableText = z
  .string()
  .refine(storableString, "must not contain U+0000 (NUL) or unpaired surrogates");

const cancelOptionsSchema = z.strictObject({
  reason: storableText.max(10_000).optional(),
  timeoutMs: z
    .number()
    .positive()
    .max(2 ** 31 - 1)
    .optional(),
  compensate: z.boolean().optional(),
});

/** Checks `cancel`'s options; an unknown key is refused by name. */
export function parseCancelOptions(options: unknown): CancelRunOptions {
  return parseOptions(cancelOptionsSchema, options, "cancel options") as CancelRunOptions;
}

/** Refuses a run id that is not a non-empty string before it reaches the store. */
export function checkRunId(what: string, runId: unknown): string {
  if (typeof runId !== "string" || runId === "" || runId.includes("\0"))
    throw new InvalidArgumentError(`${what} needs a run id, received ${describeValue(runId)}`, {
      field: "runId",
      received: describeValue(runId),
    });
  return runId;
}

const decisionSchema = z.discriminatedUnion(
  "outcome",
  [
    z.strictObject({ outcome: z.literal("committed"), result: z.unknown().optional() }),
    z.strictObject({ outcome: z.literal("retry") }),
    z.strictObject({ outcome: z.literal("failed"), reason: storableText.min(1) }),
  ],
  { error: "must be { outcome: committed | retry | failed }" },
);

const resolveSchema = z.strictObject({
  runId: z.string(),
  step: storableText.min(1),
  decision: decisionSchema,
  by: storableText.min(1).max(200),
});

/** Checks `resolveEffect`'s arguments before the store is asked anything; the result must be storable JSON. */
export function parseResolveRequest(request: {
  runId: unknown;
  step: unknown;
  decision: unknown;
  by: unknown;
}): { runId: string; step: string; decision: EffectDecision; by: string } {
  checkRunId("resolveEffect", request.runId);
  const parsed = parseOptions(resolveSchema, request, "resolveEffect") as {
    runId: string;
    step: string;
    decision: EffectDecision;
    by: string;
  };
  if (parsed.decision.outcome === "committed" && parsed.decision.result !== undefined)
    storableCopy(parsed.decision.result, "the resolved result");
  return parsed;
}

const retryOptionsSchema = z.strictObject({
  by: storableText.min(1).max(200).optional(),
  reason: storableText.max(10_000).optional(),
});

/** Checks `retry`'s options; an unknown key is refused by name. */
export function parseRetryOptions(options: unknown): RetryOptions {
  return parseOptions(retryOptionsSchema, options, "retry options") as RetryOptions;
}

/** A signal name: a non-empty string both stores keep as given. */
export function checkSignalName(what: string, name: unknown): string {
  if (typeof name !== "string" || name === "" || !storableString(name))
    throw new InvalidArgumentError(
      `${what} name must be a non-empty string without U+0000 or unpaired surrogates, received ${describeValue(name)}`,
      { field: "name", received: describeValue(name) },
    );
  return name;
}

/** A relative duration a run can journal: finite, and small enough that now + it stays exact. */
const durationMs = z
  .number()
  .min(0)
  .max(2 ** 52);

const llmOptionsSchema = z.strictObject({
  name: storableText.min(1).max(500).optional(),
  deadlineMs: durationMs.positive().optional(),
  provider: z.string().min(1).optional(),
  // The policies below are checked where they are applied.
  onFailure: z.unknown().optional(),
  output: z.unknown().optional(),
  samples: z.unknown().optional(),
  relevant: z.unknown().optional(),
});

/** Checks `ctx.llm`'s options; an unknown key is refused by name. */
export function parseLlmOptions<T>(options: T): T {
  parseOptions(llmOptionsSchema, options, "ctx.llm options");
  return options;
}

const callOptionsSchema = z.strictObject({ deadlineMs: durationMs.positive().optional() });

/** Checks `ctx.call`'s options; an unknown key is refused by name. */
export function parseCallOptions(options: unknown): { deadlineMs?: number } {
  return parseOptions(callOptionsSchema, options, "ctx.call options") as { deadlineMs?: number };
}

const waitForOptionsSchema = z.strictObject({ timeoutMs: durationMs.optional() });

/** Checks `ctx.waitFor`'s options; an unknown key is refused by name. */
export function parseWaitForOptions(options: unknown): { timeoutMs?: number } {
  return parseOptions(waitForOptionsSchema, options, "ctx.waitFor options") as {
    timeoutMs?: number;
  };
}

/** `ctx.sleep`'s duration: finite, ≥ 0, and small enough that its wake-up time stays exact. */
export function checkSleepMs(ms: unknown): number {
  return parseOptions(durationMs, ms, "ctx.sleep ms");
}
