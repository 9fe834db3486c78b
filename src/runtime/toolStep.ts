import { z } from "zod";
import { InvalidArgumentError } from "../core/errors.js";
import { describeZodError } from "../core/validate.js";
import { runTool } from "../effects/runTool.js";
import type { Tool } from "../effects/Tool.js";
import { throughOutages } from "../resilience/outage.js";
import type { Execution } from "./Execution.js";
import { outageWait } from "./outageWait.js";
import type { StepWork } from "./RunContext.js";

/** The arguments as the tool's schema parses them; a refusal says what was wrong. */
export function checkToolArgs<A, R>(tool: Tool<A, R>, args: A): A {
  if (!tool.schema) return args;
  try {
    return tool.schema.parse(args);
  } catch (err) {
    const detail = err instanceof z.ZodError ? describeZodError(err) : String(err);
    throw new InvalidArgumentError(`tool '${tool.name}' arguments: ${detail}`, {
      tool: tool.name,
    });
  }
}

/**
 * One read tool call: through its retry owner, and, since a read changes
 * nothing, waiting for its service when an outage refuses it.
 */
export async function readTool<A, R>(
  exec: Execution,
  signal: AbortSignal,
  step: string,
  tool: Tool<A, R>,
  args: A,
  deadline: number | undefined,
): Promise<StepWork<R>> {
  const host = exec.host;
  const read = () =>
    runTool<A, R>(host, tool, args, {
      idempotencyKey: `${exec.runId}:${step}`,
      signal,
      firstAttempt: 1,
      deadline,
      tenant: exec.run.tenant ?? "default",
    });
  const outage = outageWait(exec, signal, { step, kind: "tool", name: tool.name }, deadline);
  const { value, attempts } = outage
    ? await throughOutages(host.resilience.dependency(`tool:${tool.name}`), read, outage)
    : await read();
  return { value, meta: { attempts } };
}
