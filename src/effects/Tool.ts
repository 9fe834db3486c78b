import { z } from "zod";
import { FlotillaError, InvalidArgumentError } from "../core/errors.js";
import type { ErrorClassifier } from "../resilience/classify.js";
import { describeValue, parseOptions } from "../core/validate.js";

/**
 * What a tool does to the world, which decides what recovery may do:
 * - `read`: no effect; repeated freely.
 * - `idempotent`: safe to repeat with the same idempotency key.
 * - `compensable`: has an inverse (`compensate`), which may have effects of its own.
 * - `irreversible`: neither; never repeated without a decision.
 */
export type EffectKind = "read" | "idempotent" | "compensable" | "irreversible";

export interface ToolCallContext {
  /** Stable for the logical unit of work: the same on every attempt and after a crash. */
  idempotencyKey: string;
  /** Aborted when the run is cancelled or loses its lease. */
  signal: AbortSignal;
  /** 1 on the first call, higher when a retry or recovery calls again with the same key. */
  attempt: number;
  /** Absolute deadline of the call (ms since epoch), when the run or call has one. */
  deadline?: number;
}

/** What `reconcile` found out about an effect whose outcome was lost. */
export type Reconciliation<R> =
  { status: "done"; result: R } | { status: "not-done" } | { status: "unknown" };

export interface ToolSpec<A, R> {
  effect: EffectKind;
  description?: string;
  /** Validates arguments before anything is journaled (zod schema or any `{ parse }`). */
  schema?: { parse(value: unknown): A };
  /**
   * Derives the idempotency key from the arguments: the logical unit of work
   * (e.g. `refund:${orderId}`), which then dedupes across runs too. It must not
   * depend on LLM-generated text. Default: the run and step.
   */
  key?: (args: A) => string;
  run: (args: A, ctx: ToolCallContext) => Promise<R>;
  /**
   * The inverse, called by `run.undo()` with the arguments and result of a
   * committed call. It is an effect of its own, retried with the same
   * `ctx.idempotencyKey` (which it must honour: the service sees one undo
   * however often it is asked), and should treat "already undone" as done.
   * Allowed on `compensable` (required there) and `idempotent` tools.
   */
  compensate?: (args: A, result: R, ctx: ToolCallContext) => Promise<unknown>;
  /**
   * What the inverse visibly does besides reversing the effect (e.g. "emails
   * the customer a refund receipt"). Undo then reports the effect as
   * `undone-with-side-effect`, and its plan says so before anything runs.
   */
  undoSideEffect?: string;
  /** Asked after a crash inside the tool: did the effect with this key happen? */
  reconcile?: (args: A, ctx: ToolCallContext) => Promise<Reconciliation<R>>;
  /**
   * How long one call (its retries included) may take. The deadline is
   * journaled with the intent and passed to the tool (`ctx.deadline`, which
   * it should honour: refuse to act after it); the call's signal aborts at it.
   * After a crash or a lost answer, `reconcile` is not asked before it has
   * passed, so a first attempt still in flight cannot land after a "not-done".
   * Default 60 s.
   */
  timeoutMs?: number;
  /** The tool's own verdict on its errors (retryable or not), over the defaults. */
  classify?: ErrorClassifier;
  /** Concurrent calls allowed, and how many may queue beyond that (default 0). */
  bulkhead?: { concurrency: number; queue?: number };
  /**
   * The tool's service has rate limits: every attempt is admitted by the
   * fleet scheduler (when one is configured) as dependency `tool:<name>`.
   */
  rateLimited?: boolean;
  /**
   * Each call first waits, durably, for a signal named `approve:<tool name>`
   * (one signal per call, consumed in order; send it with
   * `flotilla.signal(runId, "approve:<tool name>", { approved, reason? })`).
   * Approved, the effect proceeds as usual; denied, the call fails with
   * `ApprovalDeniedError` and nothing is journaled as an effect intent; a
   * malformed payload fails it with `InvalidArgumentError`. The run suspends
   * while it waits, like `ctx.waitFor`, and a replay does not ask again. On a
   * deferred tool the approval is asked for at the end of the run, just
   * before the effect. Not allowed on `read` tools (nothing to approve).
   * Default false.
   */
  approval?: boolean;
  /**
   * `"end-of-run"`: `ctx.call` journals the call and resolves to `undefined`
   * at once; the effect is performed when the agent function has returned,
   * after every other step succeeded, in call order, before the run is
   * completed (a failing deferred effect fails the run). When the agent
   * throws, or the run is cancelled or fails, it is never performed. For
   * irreversible effects that must come last (the saga's pivot). Not allowed
   * on `read` tools. Default: performed at the call.
   */
  defer?: "end-of-run";
}

/** `timeoutMs` when a tool sets none. */
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;

export interface Tool<A = unknown, R = unknown> extends ToolSpec<A, R> {
  readonly kind: "flotilla.tool";
  readonly name: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;

const specSchema = z.strictObject({
  effect: z.enum(["read", "idempotent", "compensable", "irreversible"]),
  description: z.string().optional(),
  schema: z
    .object({ parse: z.function() }, { error: "must have a parse(value) method" })
    .loose()
    .optional(),
  key: z.function().optional(),
  run: z.function(),
  compensate: z.function().optional(),
  undoSideEffect: z.string().min(1).max(500).optional(),
  reconcile: z.function().optional(),
  classify: z.function().optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .optional(),
  rateLimited: z.boolean().optional(),
  bulkhead: z
    .object({ concurrency: z.number().int().min(1), queue: z.number().int().min(0).optional() })
    .optional(),
  approval: z.boolean().optional(),
  defer: z.literal("end-of-run").optional(),
});

/** Checks a name used for tools and agents; quotes what was received. */
export function checkName(what: string, name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new InvalidArgumentError(
      `${what} name must be 1–128 characters of letters, digits and _.:/- (starting with a letter or digit), received ${describeValue(name)}`,
      { field: "name", received: describeValue(name) },
    );
  }
  return name;
}

export function defineTool<A, R>(name: string, spec: ToolSpec<A, R>): Tool<A, R> {
  checkName("tool", name);
  parseOptions(specSchema, spec, `tool '${name}'`);
  if (spec.effect === "compensable" && !spec.compensate) {
    throw new InvalidArgumentError(`tool '${name}' is compensable but has no compensate function`, {
      tool: name,
      field: "compensate",
    });
  }
  if (spec.compensate && spec.effect !== "compensable" && spec.effect !== "idempotent") {
    throw new InvalidArgumentError(
      `tool '${name}' is ${spec.effect} but has a compensate function: declare it compensable (or idempotent) if it can be undone`,
      { tool: name, field: "compensate" },
    );
  }
  if (spec.undoSideEffect !== undefined && !spec.compensate) {
    throw new InvalidArgumentError(
      `tool '${name}' declares undoSideEffect but has no compensate function`,
      { tool: name, field: "undoSideEffect" },
    );
  }
  if (spec.effect === "read" && spec.approval) {
    throw new InvalidArgumentError(
      `tool '${name}' is a read tool and cannot have approval: true; a read changes nothing, ` +
        "so there is no effect to approve: drop approval, or wait with ctx.waitFor before the read",
      { tool: name, field: "approval", received: spec.approval },
    );
  }
  if (spec.effect === "read" && spec.defer !== undefined) {
    throw new InvalidArgumentError(
      `tool '${name}' is a read tool and cannot have defer: ${JSON.stringify(spec.defer)}; ` +
        "a read has no effect to put off and its result is needed at the call: drop defer",
      { tool: name, field: "defer", received: spec.defer },
    );
  }
  return Object.freeze({ ...spec, kind: "flotilla.tool" as const, name });
}

export function isTool(value: unknown): value is Tool {
  return typeof value === "object" && value !== null && (value as Tool).kind === "flotilla.tool";
}

/**
 * Thrown by a tool to say the effect definitely did not happen (the service
 * refused the request). Any other error from a tool that is not idempotent
 * leaves the outcome unknown, and the run is parked rather than guessing.
 * Being safe to repeat, it is retried by the retry owner like any transient
 * failure; pass `{ retryable: false }` in `details` when the refusal is final.
 */
export class ToolRejectedError extends FlotillaError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("FLOTILLA_TOOL_REJECTED", message, details);
  }
}

/** Refusals raised before the tool was called: the effect certainly did not happen. */
const BEFORE_CALL = new Set([
  "FLOTILLA_TOOL_REJECTED",
  "FLOTILLA_BREAKER_OPEN",
  "FLOTILLA_BULKHEAD_FULL",
  "FLOTILLA_THROTTLED",
  "FLOTILLA_DEADLINE_EXCEEDED",
]);

/** True when an error says the effect did not happen. */
export function effectNotApplied(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return (
    (typeof code === "string" && BEFORE_CALL.has(code)) ||
    (err as { effectApplied?: unknown }).effectApplied === false
  );
}
