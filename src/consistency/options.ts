import { z } from "zod";
import { InvalidArgumentError } from "../core/errors.js";
import { parseOptions } from "../core/validate.js";
import { isAssertionSource, type AssertionSource } from "./assertions.js";
import type { ReconcileOptions, ReconcilePolicy, ReAskOptions, TieRule } from "./types.js";

export const POLICIES = ["prefer-pinned", "vote", "escalate", "re-ask"] as const;

const schema = z
  .strictObject({
    assertions: z.custom<AssertionSource<unknown>>(isAssertionSource, {
      message: "must be a function (output, branch) => assertions, or a schema with parse()",
    }),
    policy: z.enum(POLICIES),
    onTie: z.enum(["fail", "escalate", "re-ask"]).optional(),
    pin: z.boolean().optional(),
    reAsk: z
      .strictObject({
        model: z.string().min(1),
        provider: z.string().min(1).optional(),
        temperature: z.number().min(0).max(2).optional(),
        context: z.string().optional(),
        maxTokens: z.number().int().positive().optional(),
      })
      .optional(),
    escalate: z.strictObject({ timeoutMs: z.number().int().nonnegative().optional() }).optional(),
  })
  .superRefine((o, ctx) => {
    if (o.onTie !== undefined && o.policy !== "vote" && o.policy !== "prefer-pinned")
      ctx.addIssue({
        code: "custom",
        path: ["onTie"],
        message: `applies to policies vote and prefer-pinned, not ${o.policy}`,
      });
    if (o.policy === "prefer-pinned" && o.pin === false)
      ctx.addIssue({
        code: "custom",
        path: ["pin"],
        message: "cannot be false under prefer-pinned, which pins what it resolves",
      });
    if ((o.policy === "re-ask" || o.onTie === "re-ask") && !o.reAsk)
      ctx.addIssue({
        code: "custom",
        path: ["reAsk"],
        message: "is required by re-ask: { model } of the call that chooses",
      });
  });

/** The options with their defaults, checked. */
export interface ReconcileSettings<O> {
  assertions: AssertionSource<O>;
  policy: ReconcilePolicy;
  onTie: TieRule;
  pin: boolean;
  reAsk: ReAskOptions | undefined;
  timeoutMs: number | undefined;
}

export function reconcileSettings<O>(
  outputs: unknown,
  options: ReconcileOptions<O>,
): ReconcileSettings<O> {
  if (!Array.isArray(outputs))
    throw new InvalidArgumentError(
      `ctx.reconcile needs the branches' outputs as an array, received ${outputs === null ? "null" : typeof outputs}`,
      { field: "outputs" },
    );
  const o = parseOptions(schema, options, "ctx.reconcile options");
  return {
    assertions: o.assertions,
    policy: o.policy,
    onTie: o.onTie ?? "fail",
    pin: o.policy === "prefer-pinned" || (o.pin ?? false),
    reAsk: o.reAsk as ReAskOptions | undefined,
    timeoutMs: o.escalate?.timeoutMs,
  };
}
