import { signalOf, type AbortSource } from "../core/abort.js";
import { isFlotillaError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { abortAfter } from "../core/timers.js";
import type { EffectIntent, StepRecord } from "../journal/JournalIndex.js";
import type { Execution } from "../runtime/Execution.js";
import { attempt, park, settleCommitted, type EffectCall } from "./attempt.js";
import { callDeadline } from "./perform.js";
import { DEFAULT_TOOL_TIMEOUT_MS, type Reconciliation, type Tool } from "./Tool.js";

/**
 * An effect with an intent and no outcome: its call was cut short. An
 * idempotent tool (or one an operator approved) is called again with the
 * same key and the journaled arguments; a tool with `reconcile` is asked,
 * once the first call can no longer land; anything else is parked as
 * outcome-unknown, never re-executed blindly.
 */
export async function recover<A, R>(
  exec: Execution,
  stop: AbortSource,
  step: string,
  rec: StepRecord,
  intent: EffectIntent,
  tool: Tool<A, R>,
  deadline: number | undefined,
): Promise<R> {
  const call: EffectCall<A, R> = {
    exec,
    stop,
    step,
    tool,
    args: intent.args as A,
    key: intent.key,
    deadline,
  };
  if (rec.retryApproved || tool.effect === "idempotent")
    return reattempt(call, rec.attempts + 1, { recovery: true });
  if (tool.reconcile) return reconcileThenSettle(call, rec.attempts, intent.deadline ?? 0);
  return park(call, rec.unknown);
}

/** Journals a new attempt (with its own deadline) before making it. */
async function reattempt<A, R>(
  call: EffectCall<A, R>,
  n: number,
  why: Record<string, Json>,
): Promise<R> {
  const attemptDeadline = callDeadline(call.exec, call.tool, call.deadline);
  try {
    await call.exec.write([
      {
        type: "effect.attempt",
        step: call.step,
        data: { kind: "tool", name: call.tool.name, attempt: n, deadline: attemptDeadline, ...why },
      },
    ]);
  } catch (err) {
    if (isFlotillaError(err, "FLOTILLA_STORE_FAULT")) call.exec.notCalled.add(call.step);
    throw err;
  }
  return attempt(call, n, attemptDeadline);
}

/**
 * Asks `reconcile` whether the effect happened — only after `inFlightUntil`,
 * when the last call can no longer land, so a "not-done" cannot be
 * overtaken by a slow first request. A long wait suspends the run durably.
 */
export async function reconcileThenSettle<A, R>(
  call: EffectCall<A, R>,
  attempts: number,
  inFlightUntil: number,
): Promise<R> {
  const { exec, stop, step, tool, key } = call;
  await waitPast(exec, stop, step, inFlightUntil);
  exec.checkLease();
  let found: Reconciliation<R>;
  // A question that gets no answer is as good as "unknown": it may not hang the run.
  const asking = abortAfter(stop, tool.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS);
  try {
    found = await Promise.race([
      tool.reconcile!(call.args, { idempotencyKey: key, signal: asking.signal, attempt: attempts }),
      asking.expired,
    ]);
  } catch (err) {
    if (stop.aborted) throw err;
    return park(call);
  } finally {
    asking.dispose();
  }
  if (found.status === "done") return settleCommitted(call, found.result, { reconciled: true });
  if (found.status === "not-done") return reattempt(call, attempts + 1, { reconciled: "not-done" });
  return park(call);
}

async function waitPast(
  exec: Execution,
  stop: AbortSource,
  step: string,
  until: number,
): Promise<void> {
  const left = until - exec.host.clock.now();
  if (left <= 0) return;
  const signal = signalOf(stop);
  if (left <= exec.host.inlineSleepMs) return exec.host.clock.sleep(left, signal);
  await exec.block(
    signal,
    `effect ${step} may still land until ${new Date(until).toISOString()}`,
    until,
  );
}
