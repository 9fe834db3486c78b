import { InvalidArgumentError, NonDeterminismError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { fingerprint } from "../deadletter/loops.js";
import type { Execution } from "../runtime/Execution.js";
import type { RunContext } from "../runtime/RunContext.js";
import { redactorOf } from "../telemetry/redaction/Redactor.js";
import { gatedEffect, type EffectSteps } from "./gate.js";
import type { Tool } from "./Tool.js";

/** A call of a `defer: "end-of-run"` tool, as the agent made it (or as its replay found it). */
interface Deferral {
  /** The step that journaled the call. */
  step: string;
  tool: Tool;
  /** As journaled. */
  args: unknown;
  /** The call's own deadline, counted from when the effect is performed. */
  deadlineMs: number | undefined;
  /** Registration order, for calls journaled by this execution. */
  seq: number;
}

/** Each execution's deferred calls, found as its agent function runs or replays. */
const deferrals = new WeakMap<Execution, Deferral[]>();

/** Where the end-of-run phase journals the effect of the call deferred at `step`. */
export function deferredSteps(step: string, tool: Tool): EffectSteps {
  return { approval: tool.approval ? `${step}.approve` : undefined, effect: `${step}.effect` };
}

/**
 * `ctx.call` of a deferred tool: journals the call (its arguments) as a step
 * of its own and resolves to `undefined`, the effect being left to the end
 * of the run. On replay the journaled call is found again, with the
 * arguments it was journaled with.
 */
export async function deferCall<A, R>(
  ctx: RunContext,
  exec: Execution,
  step: string,
  tool: Tool<A, R>,
  args: A,
  deadlineMs: number | undefined,
  fp: string,
): Promise<undefined> {
  const rec = exec.enter(ctx, step, "tool", tool.name);
  try {
    exec.watch(rec);
    let journaled: unknown;
    if (rec?.outcome?.ok && rec.meta.deferred === true) {
      // The journaled call, with the secrets redaction took from it given back by the replayed code.
      journaled = redactorOf(exec.host).restore(args, rec.meta.args);
    } else {
      if (rec) {
        // The journal has this call performed at the step: the tool was not deferred then.
        const err = new NonDeterminismError(
          exec.runId,
          step,
          { kind: "tool", name: tool.name },
          { kind: "deferred tool", name: tool.name },
        );
        exec.stop("fail", err);
        throw err;
      }
      journaled = storableCopy(args, `the arguments of tool '${tool.name}'`) ?? null;
      checkKey(tool, journaled as A);
      await exec.write([
        {
          type: "step.completed",
          step,
          data: {
            kind: "tool",
            name: tool.name,
            deferred: true,
            args: journaled as Json,
            value: null,
          },
        },
      ]);
    }
    const list = deferrals.get(exec) ?? [];
    deferrals.set(exec, list);
    list.push({ step, tool: tool as Tool, args: journaled, deadlineMs, seq: list.length });
    // Scheduling an effect is progress, as performing one is.
    exec.progress(rec, { fp, value: null, effect: true });
    return undefined;
  } finally {
    exec.leave();
  }
}

/** A key function that cannot name the effect fails the call now, not the run at its end. */
function checkKey<A, R>(tool: Tool<A, R>, args: A): void {
  if (!tool.key) return;
  const key = tool.key(args);
  if (typeof key !== "string" || key === "") {
    throw new InvalidArgumentError(
      `tool '${tool.name}': key(args) must return a non-empty string, received ${JSON.stringify(key)}`,
      { tool: tool.name, field: "key" },
    );
  }
}

/**
 * The end of a run whose agent function returned `value`: performs its
 * deferred effects in call order, each through the effect protocol (intent,
 * idempotency key, retries, outcome; after a crash, the journal replays the
 * ones committed and recovery settles the one cut short), then lets the run
 * complete. The first failure ends the phase and fails the run; a stop
 * (cancel, deadline, lost lease) ends it before the next effect. A value
 * the journal cannot hold fails the run before any deferred effect.
 */
export async function performDeferred(
  exec: Execution,
  ctx: RunContext,
  value: unknown,
): Promise<unknown> {
  const list = deferrals.get(exec);
  if (!list) return value;
  storableCopy(value, `the return value of agent '${exec.run.agent}'`);
  for (const d of inCallOrder(exec, list)) {
    exec.assertOpen(ctx.signal);
    const fp = fingerprint("tool", d.tool.name, d.args);
    const deadline = ctx.deadline(d.deadlineMs);
    await gatedEffect(ctx, exec, deferredSteps(d.step, d.tool), d.tool, d.args, deadline, fp);
  }
  return value;
}

/**
 * The journal's order of the calls (concurrent branches may replay them in
 * another order); calls journaled by this execution come after the ones it
 * loaded, in the order their writes finished.
 */
function inCallOrder(exec: Execution, list: readonly Deferral[]): Deferral[] {
  const at = new Map<string, number>();
  exec.events.forEach((e, i) => {
    if (e.type === "step.completed" && e.step) at.set(e.step, i);
  });
  const loaded = exec.events.length;
  const position = (d: Deferral) => at.get(d.step) ?? loaded + d.seq;
  return [...list].sort((a, b) => position(a) - position(b));
}
