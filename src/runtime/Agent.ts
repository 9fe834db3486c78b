import { InvalidArgumentError } from "../core/errors.js";
import { LoopThresholdsSchema, type LoopThresholds } from "../deadletter/loops.js";
import { checkName } from "../effects/Tool.js";
import type { RunContext } from "./RunContext.js";
import { parseOptions } from "../core/validate.js";

export type AgentFn<I, O> = (ctx: RunContext, input: I) => Promise<O>;

export interface AgentOptions<I> {
  /** Validates the input before a run is created (zod schema or any `{ parse }`). */
  schema?: { parse(value: unknown): I };
  /** Loop-detector thresholds for this agent's runs (defaults: see DEFAULT_LOOP_THRESHOLDS), or false to turn them off. */
  loops?: LoopThresholds | false;
}

export interface Agent<I = unknown, O = unknown> {
  readonly kind: "flotilla.agent";
  readonly name: string;
  readonly fn: AgentFn<I, O>;
  readonly schema: { parse(value: unknown): I } | undefined;
  readonly loops: LoopThresholds | false;
}

export function defineAgent<I, O>(
  name: string,
  fn: AgentFn<I, O>,
  options: AgentOptions<I> = {},
): Agent<I, O> {
  checkName("agent", name);
  if (typeof fn !== "function") {
    throw new InvalidArgumentError(
      `agent '${name}' needs an async function (ctx, input), received ${typeof fn}`,
      {
        agent: name,
        field: "fn",
      },
    );
  }
  const loops =
    options.loops === false
      ? false
      : parseOptions(LoopThresholdsSchema, options.loops ?? {}, `agent '${name}' loops`);
  return Object.freeze({
    kind: "flotilla.agent" as const,
    name,
    fn,
    schema: options.schema,
    loops,
  });
}

export function isAgent(value: unknown): value is Agent {
  return typeof value === "object" && value !== null && (value as Agent).kind === "flotilla.agent";
}
