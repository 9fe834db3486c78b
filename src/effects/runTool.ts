import type { Admission } from "../fleet/types.js";
import type { Bulkhead } from "../resilience/Bulkhead.js";
import type { ExecuteOptions } from "../resilience/Dependency.js";
import type { ErrorClassifier } from "../resilience/classify.js";
import type { Resilience } from "../resilience/Resilience.js";
import { countAttempt, type Telemetry } from "../telemetry/Telemetry.js";
import { effectNotApplied, type Tool, type ToolCallContext } from "./Tool.js";

export interface ToolRunHost {
  readonly resilience: Resilience;
  readonly admission: Admission | undefined;
  bulkhead(tool: Tool): Bulkhead | undefined;
  /** The tenant's bulkhead, when tenants are isolated from each other. */
  tenantBulkhead(tenant: string): Bulkhead | undefined;
  /** Counts each attempt by how it ended; none when absent. */
  readonly telemetry?: Telemetry;
}

/** Each tool's dependency name, made once (a tool is frozen: its name never changes). */
const dependencyNames = new WeakMap<Tool, string>();

/** The dependency a tool's calls go through: `tool:<name>`. */
export function toolDependency(tool: Tool): string {
  let name = dependencyNames.get(tool);
  if (name === undefined) dependencyNames.set(tool, (name = `tool:${tool.name}`));
  return name;
}

/** Runs `fn` inside every given bulkhead, outermost first. */
export function throughBulkheads<T>(
  bulkheads: readonly (Bulkhead | undefined)[],
  fn: () => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  return bulkheads.reduceRight<() => Promise<T>>(
    (inner, b) => (b ? () => b.execute(inner, signal) : inner),
    fn,
  )();
}

/**
 * Calls a tool through its dependency's retry owner and its bulkheads (the
 * tenant's, then the tool's). Only tools that are safe to repeat (read,
 * idempotent) are retried; the key stays the same on every attempt.
 * `call.signal` is read only when needed: it may be a getter that makes a
 * step's signal (see LazyLinkedAbort), which a tool that never reads it
 * does without. Not async: its promise is the retry owner's, not a wrapper
 * awaiting it (its callers call it inside their own try).
 */
export function runTool<A, R>(
  host: ToolRunHost,
  tool: Tool<A, R>,
  args: A,
  call: ToolRun,
): Promise<{ value: R; attempts: number }> {
  const dependency = host.resilience.dependency(toolDependency(tool as Tool));
  const bulkheads = [host.tenantBulkhead(call.tenant), host.bulkhead(tool as Tool)];
  // Without one, an attempt is made directly: no wrapper, and the signal is not read for it.
  const bulkheaded = bulkheads[0] !== undefined || bulkheads[1] !== undefined;
  const admission = tool.rateLimited ? host.admission : undefined;
  const first = call.firstAttempt;
  const send = (attempt: number) =>
    countAttempt(
      host.telemetry,
      dependency.name,
      tool.run(args, toolContext(call, first + attempt - 1)),
    );
  // With no permit to release and no one to tell of a failure, an attempt is the call itself, not
  // an async wrapper awaiting it: the retry owner (or a bulkhead) takes a throw as a rejection.
  const once =
    !admission && !call.onAttemptFailed
      ? send
      : async (attempt: number) => {
          // Awaited only when there is one: awaiting nothing would still cost the call a turn.
          const permit =
            admission &&
            (await admission.acquire(
              {
                dependency: dependency.name,
                tenant: call.tenant,
                estimate: { inputTokens: 0, outputTokens: 0 },
              },
              call.signal,
            ));
          try {
            const value = await send(attempt);
            permit?.release({ outcome: "ok" });
            return value;
          } catch (err) {
            call.onAttemptFailed?.(err);
            permit?.release({
              outcome: (err as { status?: number }).status === 429 ? "rate_limited" : "error",
            });
            throw err;
          }
        };
  return dependency.execute(
    (attempt) =>
      bulkheaded ? throughBulkheads(bulkheads, () => once(attempt), call.signal) : once(attempt),
    new ToolRunOptions(call, tool as Tool),
  );
}

/**
 * What the tool is given. A signal made when read (`lazySignal`) is read
 * when the tool reads it; assigned, it becomes the plain property it would
 * have been. Otherwise it is a plain property: an object with an accessor
 * is slower to make and to collect than the signal it would defer.
 */
function toolContext(call: ToolRun, attempt: number): ToolCallContext {
  const deadline = call.deadline !== undefined ? { deadline: call.deadline } : {};
  const { idempotencyKey } = call;
  if (!call.lazySignal) return { idempotencyKey, signal: call.signal, attempt, ...deadline };
  return {
    idempotencyKey,
    get signal() {
      return call.signal;
    },
    set signal(value) {
      Object.defineProperty(this, "signal", { value, writable: true, enumerable: true });
    },
    attempt,
    ...deadline,
  };
}

/** One tool call as `runTool` makes it. */
export interface ToolRun {
  readonly idempotencyKey: string;
  readonly signal: AbortSignal;
  /** True when reading `signal` makes it (a step's own signal): it is then read only when needed. */
  readonly lazySignal?: boolean;
  /** The first attempt's number, read when the call starts. */
  readonly firstAttempt: number;
  readonly deadline: number | undefined;
  readonly tenant: string;
  /** Told of each attempt's own error, before the retry owner decides anything. */
  readonly onAttemptFailed?: (err: unknown) => void;
}

/** The retry owner's options for a tool call; a class, so its signal is read only when needed. */
class ToolRunOptions implements ExecuteOptions {
  readonly deadline: number | undefined;
  readonly retryable: boolean | ((err: unknown) => boolean);
  readonly classifier: ErrorClassifier | undefined;

  constructor(
    private readonly call: ToolRun,
    tool: Tool,
  ) {
    this.deadline = call.deadline;
    // Safe to repeat: reads, idempotent tools, and any tool when the attempt certainly did nothing.
    this.retryable =
      tool.effect === "read" || tool.effect === "idempotent" ? true : effectNotApplied;
    this.classifier = tool.classify;
  }

  get signal(): AbortSignal {
    return this.call.signal;
  }
}
