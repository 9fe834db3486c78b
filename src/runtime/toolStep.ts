import { z } from "zod";
import { InvalidArgumentError } from "../core/errors.js";
import { describeZodError } from "../core/validate.js";
import { runTool, toolDependency, type ToolRun } from "../effects/runTool.js";
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
 * nothing, waiting for its service when an outage refuses it. The step's
 * signal is read from `ctx` only when something needs it (see LazyLinkedAbort).
 */
export async function readTool<A, R>(
  exec: Execution,
  ctx: { readonly signal: AbortSignal },
  step: string,
  tool: Tool<A, R>,
  args: A,
  deadline: number | undefined,
): Promise<StepWork<R>> {
  const host = exec.host;
  const call = new ReadCall(`${exec.runId}:${step}`, ctx, deadline, exec.run.tenant ?? "default");
  const read = () => runTool<A, R>(host, tool, args, call);
  const waiting = { step, kind: "tool", name: tool.name } as const;
  const outage = outageWait(exec, () => ctx.signal, waiting, deadline);
  const { value, attempts } = outage
    ? await throughOutages(host.resilience.dependency(toolDependency(tool as Tool)), read, outage)
    : await read();
  return { value, meta: { attempts } };
}

/** A read step's call: a class, so the step's signal is read from its context only when needed. */
class ReadCall implements ToolRun {
  readonly lazySignal = true;
  readonly firstAttempt = 1;

  constructor(
    readonly idempotencyKey: string,
    private readonly ctx: { readonly signal: AbortSignal },
    readonly deadline: number | undefined,
    readonly tenant: string,
  ) {}

  get signal(): AbortSignal {
    return this.ctx.signal;
  }
}
