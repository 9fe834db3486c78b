import { z } from "zod";
import type { Clock } from "../core/clock.js";
import {
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
import type { WorkerOptions } from "./Worker.js";

export const optionsSchema = z.object({
  store: z.union([z.string().min(1), z.object({ commit: z.function() }).loose()]).optional(),
  providers: z
    .record(z.string(), z.object({ name: z.string(), complete: z.function() }).loose())
    .optional(),
  workerId: z.string().min(1).optional(),
  poolSize: z.number().int().min(1).max(1_000).optional(),
  inlineSleepMs: z.number().min(0).optional(),
  inlineWaitMs: z.number().min(0).optional(),
  outageWaitMs: z.number().min(0).optional(),
  stopGraceMs: z.number().min(0).optional(),
  worker: z.union([z.literal(false), z.object({}).loose()]).optional(),
  resilience: z.object({}).loose().optional(),
  admission: z.object({ acquire: z.function() }).loose().optional(),
  tenantBulkhead: z
    .object({ concurrency: z.number().int().min(1), queue: z.number().int().min(0).optional() })
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
