import { z } from "zod";
import { InvalidArgumentError } from "../core/errors.js";
import { sha256 } from "../core/json.js";
import { LoopThresholdsSchema, type LoopThresholds } from "../deadletter/loops.js";
import { checkName } from "../effects/Tool.js";
import type { RunContext } from "./RunContext.js";
import { parseOptions } from "../core/validate.js";
import { parseAgentOptions } from "./options.js";

export type AgentFn<I, O> = (ctx: RunContext, input: I) => Promise<O>;

export interface AgentOptions<I> {
  /** Validates the input before a run is created (zod schema or any `{ parse }`). */
  schema?: { parse(value: unknown): I };
  /** Loop-detector thresholds for this agent's runs (defaults: see DEFAULT_LOOP_THRESHOLDS), or false to turn them off. */
  loops?: LoopThresholds | false;
  /**
   * This agent's version, recorded on each run a worker executes (see
   * `Agent.version`): 1–64 letters, digits and `._+-`, starting with a letter
   * or digit. Declare a new one with every change to the agent's code.
   * Default: a hash of the function's source, `src:` and 12 hex digits.
   */
  version?: string;
  /**
   * Versions of runs this agent may also resume: list one only when this
   * code replays that version's journals unchanged (steps in the same order,
   * with the same kinds and names). Default: none.
   */
  compatibleWith?: readonly string[];
}

export interface Agent<I = unknown, O = unknown> {
  readonly kind: "flotilla.agent";
  readonly name: string;
  readonly fn: AgentFn<I, O>;
  readonly schema: { parse(value: unknown): I } | undefined;
  readonly loops: LoopThresholds | false;
  /**
   * Declared, or `src:` and a hash of `fn.toString()` (which does not see
   * code the function calls). A run takes the version of the worker that
   * executes it; a worker resumes a run only at a version it accepts.
   */
  readonly version: string;
  /** The versions of runs this agent resumes: its own, then `compatibleWith`. */
  readonly accepts: readonly string[];
}

const DECLARED = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const DECLARED_RULE = "must be 1–64 letters, digits and ._+- starting with a letter or digit";

const versionSchema = z.object({
  version: z.string().regex(DECLARED, `a version ${DECLARED_RULE}`).optional(),
  compatibleWith: z
    .array(
      z
        .string()
        .regex(
          new RegExp(`${DECLARED.source}|^src:[0-9a-f]{12}$`),
          `a compatible version ${DECLARED_RULE}, or be a source hash src:<12 hex digits>`,
        ),
    )
    .max(64)
    .optional(),
});

/** The version of an agent that declares none: a hash of its function's source. */
export function sourceVersion(fn: (...args: never[]) => unknown): string {
  return `src:${sha256(fn.toString()).toString("hex").slice(0, 12)}`;
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
  parseAgentOptions(name, options);
  const loops =
    options.loops === false
      ? false
      : parseOptions(LoopThresholdsSchema, options.loops ?? {}, `agent '${name}' loops`);
  const versions = parseOptions(
    versionSchema,
    { version: options.version, compatibleWith: options.compatibleWith },
    `agent '${name}'`,
  );
  const version = versions.version ?? sourceVersion(fn);
  return Object.freeze({
    kind: "flotilla.agent" as const,
    name,
    fn,
    schema: options.schema,
    loops,
    version,
    accepts: Object.freeze([...new Set([version, ...(versions.compatibleWith ?? [])])]),
  });
}

export function isAgent(value: unknown): value is Agent {
  return typeof value === "object" && value !== null && (value as Agent).kind === "flotilla.agent";
}
