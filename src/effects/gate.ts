import { z } from "zod";
import { ApprovalDeniedError, InvalidArgumentError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { describeZodError } from "../core/validate.js";
import type { StepSeen } from "../deadletter/loops.js";
import type { Execution } from "../runtime/Execution.js";
import type { RunContext } from "../runtime/RunContext.js";
import { waitForSignal } from "../runtime/waits.js";
import { performEffect } from "./perform.js";
import type { Tool } from "./Tool.js";

/** The signal that decides one call of a tool with `approval: true`. */
export function approvalSignal(tool: string): string {
  return `approve:${tool}`;
}

/** What an approval signal carries; other fields are ignored. */
const decisionSchema = z.object({
  approved: z.boolean(),
  reason: z.string().max(2000).optional(),
});

/**
 * Where one effect is journaled: its approval (a signal step, when the tool
 * needs one) and its call. Both ids are taken when the agent makes the call,
 * so concurrent calls are numbered the same way on every replay, however
 * their approvals arrive.
 */
export interface EffectSteps {
  approval: string | undefined;
  effect: string;
}

/** A tool call that changes the world: its approval first when it needs one, then the effect. */
export async function gatedEffect<A, R>(
  ctx: RunContext,
  exec: Execution,
  steps: EffectSteps,
  tool: Tool<A, R>,
  args: A,
  deadline: number | undefined,
  fp: StepSeen["fp"],
): Promise<R> {
  if (tool.approval) {
    if (steps.approval === undefined) throw new Error(`no approval step for tool '${tool.name}'`);
    await approved(ctx, exec, steps.approval, tool, args);
  }
  const step = steps.effect;
  const rec = exec.enter(ctx, step, "tool", tool.name, true);
  try {
    // A recorded intent is not new work: it must be allowed to settle, never refused.
    exec.watch(rec, !rec?.intent);
    // The step's stop, not its signal: most effects end without anyone needing one made.
    const value = await performEffect<A, R>(exec, ctx.abortState, step, rec, tool, args, deadline);
    exec.progress(rec, { fp, value, effect: true });
    return value;
  } finally {
    exec.leave();
  }
}

/**
 * Waits for the call's `approve:<tool>` signal with the machinery of
 * `ctx.waitFor` (held in memory a while, then suspended; the signal consumed
 * is journaled, so a replay does not ask again). The request is journaled
 * first, with the arguments, for whoever decides and for a cancel receipt,
 * which lists a call still waiting as never started. Throws when the
 * decision is a denial or not a decision at all.
 */
async function approved<A, R>(
  ctx: RunContext,
  exec: Execution,
  step: string,
  tool: Tool<A, R>,
  args: A,
): Promise<void> {
  const name = approvalSignal(tool.name);
  const rec = exec.enter(ctx, step, "signal", name);
  try {
    if (!rec) {
      const journaled = storableCopy(args, `the arguments of tool '${tool.name}'`);
      await exec.write([
        {
          type: "approval.requested",
          step,
          data: { kind: "signal", name, tool: tool.name, args: (journaled ?? null) as Json },
        },
      ]);
    }
  } finally {
    exec.leave();
  }
  // Entered again before any await, so the execution never finds this step idle and unwaited.
  const payload = await waitForSignal<unknown>(ctx, exec, () => step, name, {});
  const decision = decisionSchema.safeParse(payload);
  if (!decision.success) {
    const shown = JSON.stringify(payload) ?? String(payload);
    throw new InvalidArgumentError(
      `the ${name} signal for step ${step} is not an approval (${describeZodError(decision.error)}; ` +
        `received ${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown}): ` +
        `the effect was not performed. Send { approved: boolean, reason?: string }`,
      { tool: tool.name, signal: name, step, field: "payload", received: payload as Json },
    );
  }
  if (!decision.data.approved)
    throw new ApprovalDeniedError(tool.name, decision.data.reason, { step, signal: name });
}
