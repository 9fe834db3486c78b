import type { Bulkhead } from "../resilience/Bulkhead.js";
import type { Resilience } from "../resilience/Resilience.js";
import type { Tool } from "./Tool.js";

export interface ToolRunHost {
  readonly resilience: Resilience;
  bulkhead(tool: Tool): Bulkhead | undefined;
}

/**
 * Calls a tool through its dependency's retry owner and bulkhead. Only tools
 * that are safe to repeat (read, idempotent) are retried; the key stays the
 * same on every attempt.
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
  },
): Promise<{ value: R; attempts: number }> {
  const dependency = host.resilience.dependency(`tool:${tool.name}`);
  const bulkhead = host.bulkhead(tool as Tool);
  const once = (attempt: number) =>
    tool.run(args, {
      idempotencyKey: call.idempotencyKey,
      signal: call.signal,
      attempt: call.firstAttempt + attempt - 1,
      ...(call.deadline !== undefined ? { deadline: call.deadline } : {}),
    });
  return dependency.execute(
    (attempt) => (bulkhead ? bulkhead.execute(() => once(attempt), call.signal) : once(attempt)),
    {
      signal: call.signal,
      deadline: call.deadline,
      retryable: tool.effect === "read" || tool.effect === "idempotent",
      classifier: tool.classify,
    },
  );
}
