import type { Admission } from "../fleet/types.js";
import type { Bulkhead } from "../resilience/Bulkhead.js";
import type { Resilience } from "../resilience/Resilience.js";
import { countAttempt, type Telemetry } from "../telemetry/Telemetry.js";
import { effectNotApplied, type Tool } from "./Tool.js";

export interface ToolRunHost {
  readonly resilience: Resilience;
  readonly admission: Admission | undefined;
  bulkhead(tool: Tool): Bulkhead | undefined;
  /** The tenant's bulkhead, when tenants are isolated from each other. */
  tenantBulkhead(tenant: string): Bulkhead | undefined;
  /** Counts each attempt by how it ended; none when absent. */
  readonly telemetry?: Telemetry;
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
 */
export async function runTool<A, R>(
  host: ToolRunHost,
  tool: Tool<A, R>,
  args: A,
  call: {
    idempotencyKey: string;
    signal: AbortSignal;
    firstAttempt: number;
    deadline: number | undefined;
    tenant: string;
    /** Told of each attempt's own error, before the retry owner decides anything. */
    onAttemptFailed?: (err: unknown) => void;
  },
): Promise<{ value: R; attempts: number }> {
  const dependency = host.resilience.dependency(`tool:${tool.name}`);
  const bulkheads = [host.tenantBulkhead(call.tenant), host.bulkhead(tool as Tool)];
  const admission = tool.rateLimited ? host.admission : undefined;
  const once = async (attempt: number) => {
    const permit = await admission?.acquire(
      {
        dependency: dependency.name,
        tenant: call.tenant,
        estimate: { inputTokens: 0, outputTokens: 0 },
      },
      call.signal,
    );
    try {
      const value = await countAttempt(
        host.telemetry,
        dependency.name,
        tool.run(args, {
          idempotencyKey: call.idempotencyKey,
          signal: call.signal,
          attempt: call.firstAttempt + attempt - 1,
          ...(call.deadline !== undefined ? { deadline: call.deadline } : {}),
        }),
      );
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
    (attempt) => throughBulkheads(bulkheads, () => once(attempt), call.signal),
    {
      signal: call.signal,
      deadline: call.deadline,
      // Safe to repeat: reads, idempotent tools, and any tool when the attempt certainly did nothing.
      retryable: tool.effect === "read" || tool.effect === "idempotent" ? true : effectNotApplied,
      classifier: tool.classify,
    },
  );
}
