import type { AbortSource } from "../core/abort.js";
import {
  CancelledError,
  EffectInProgressError,
  EffectKeyConflictError,
  InvalidArgumentError,
  type FlotillaError,
} from "../core/errors.js";
import { canonicalJson, sha256, type Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import type { StepRecord } from "../journal/JournalIndex.js";
import type { EffectUpdate } from "../store/types.js";
import type { Execution } from "../runtime/Execution.js";
import { replayOutcome } from "../runtime/RunContext.js";
import { redactorOf } from "../telemetry/redaction/Redactor.js";
import { attempt, keyRows, type EffectCall } from "./attempt.js";
import { recover } from "./recover.js";
import { DEFAULT_TOOL_TIMEOUT_MS, type Tool } from "./Tool.js";

/**
 * The effect protocol for a tool that changes the world:
 *
 *   intent(key, args, deadline) ─► call ─► committed(result) | failed(error) | unknown
 *
 * The intent is durable before the tool is called (an idempotent tool's, no
 * later than its outcome: lost, it costs a repeat with the same key) and the
 * outcome durable before the agent sees it. A step found with an intent and no outcome was cut
 * short (a crash, a lost store, a lost lease): `recover` decides what may be
 * done again. Keys are scoped by tool and checked against the arguments.
 */
export async function performEffect<A, R>(
  exec: Execution,
  stop: AbortSource,
  step: string,
  rec: StepRecord | undefined,
  tool: Tool<A, R>,
  args: A,
  deadline: number | undefined,
): Promise<R> {
  if (rec?.outcome) return replayOutcome<R>(step, rec.outcome);
  if (rec?.revoked)
    throw new CancelledError(exec.runId, "the effect was revoked before it started");
  const intent = rec?.intent;
  // The journal holds the arguments redacted; the replayed agent code passes them whole.
  const recovered = intent && { ...intent, args: redactorOf(exec.host).restore(args, intent.args) };
  return exec.trace.tool(tool, step, () =>
    rec && recovered
      ? recover(exec, stop, step, rec, recovered, tool, deadline)
      : begin(exec, stop, step, tool, args, deadline),
  );
}

async function begin<A, R>(
  exec: Execution,
  stop: AbortSource,
  step: string,
  tool: Tool<A, R>,
  args: A,
  deadline: number | undefined,
): Promise<R> {
  const name = tool.name;
  const key = tool.key ? tool.key(args) : `${exec.runId}:${step}`;
  if (typeof key !== "string" || key === "") {
    throw new InvalidArgumentError(
      `tool '${name}': key(args) must return a non-empty string, received ${JSON.stringify(key)}`,
      { tool: name, field: "key" },
    );
  }
  // The tool gets what the journal holds, so a first call and a recovery see the same arguments.
  const journaled = storableCopy(args, `the arguments of tool '${name}'`);
  if (stop.aborted) return revoke(exec, step, name);
  const call: EffectCall<A, R> = { exec, stop, step, tool, args: journaled, key, deadline };
  if (tool.key) {
    const reused = await claimKey(call);
    if (reused) return reused.value;
  }
  const attemptDeadline = callDeadline(exec, tool, deadline);
  try {
    await exec.write(
      [
        {
          type: "effect.intent",
          step,
          data: {
            kind: "tool",
            name,
            key,
            effect: tool.effect,
            args: journaled as Json,
            deadline: attemptDeadline,
            // What undo may do, so a plan needs the journal alone.
            ...(tool.compensate ? { reversible: true } : {}),
            ...(tool.undoSideEffect ? { undoSideEffect: tool.undoSideEffect } : {}),
            // The key is the tool's own, registered for other runs (see keyRows).
            ...(tool.key ? { keyed: true } : {}),
          },
        },
      ],
      // A key of the tool's own was registered as this intent's by its claim: no row to write.
      // Lost to a power failure, an idempotent call's intent costs a repeat with the same key.
      { deferFlush: tool.effect === "idempotent" },
      true,
    );
  } catch (err) {
    // Refused for a cancel: the claimed key did nothing and is free again.
    if ((err as FlotillaError).code === "FLOTILLA_CANCELLED")
      return revoke(exec, step, name, keyRows(call, "failed"));
    if ((err as FlotillaError).code === "FLOTILLA_STORE_FAULT") exec.notCalled.add(step);
    throw err;
  }
  return attempt(call, 1, attemptDeadline);
}

/** When this call stops being able to land: the tool's timeout, capped by the run's deadline. */
export function callDeadline(
  exec: Execution,
  tool: { timeoutMs?: number | undefined },
  deadline: number | undefined,
): number {
  const own = exec.host.clock.now() + (tool.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS);
  return deadline === undefined ? own : Math.min(own, deadline);
}

/**
 * Claims the tool's key for this step. Another unit of work holding it with
 * other arguments is refused; one that committed already is reused (its
 * result returned, nothing called); one still in flight blocks a tool that
 * is not idempotent.
 */
async function claimKey<A, R>(call: EffectCall<A, R>): Promise<{ value: R } | undefined> {
  const { exec, step, tool, key } = call;
  // Of the arguments as stored: a hash of a card number could be brute-forced back to it.
  const argsHash = sha256(canonicalJson(redactorOf(exec.host).value(call.args) ?? null))
    .subarray(0, 16)
    .toString("hex");
  const holder = await exec.viaStore(() =>
    exec.host.store.claimEffectKey({ key, runId: exec.runId, step, tool: tool.name, argsHash }),
  );
  if (holder.runId === exec.runId && holder.step === step) return undefined;
  const base = { kind: "tool", name: tool.name };
  if (holder.argsHash !== null && holder.argsHash !== argsHash) {
    const error = new EffectKeyConflictError(tool.name, key, holder, "with other arguments");
    await exec.write([
      { type: "step.failed", step, data: { ...base, error: error.toJSON() as unknown as Json } },
    ]);
    throw error;
  }
  if (holder.state === "committed") {
    const value = holder.result ?? null;
    await exec.write([
      {
        type: "effect.intent",
        step,
        data: { ...base, key, effect: tool.effect, args: call.args as Json },
      },
      {
        type: "effect.committed",
        step,
        data: { ...base, value, dedupedFrom: { runId: holder.runId, step: holder.step } },
      },
    ]);
    return { value: value as R };
  }
  if (tool.effect !== "idempotent") {
    const error = new EffectInProgressError(key, holder.runId);
    await exec.write([
      { type: "step.failed", step, data: { ...base, error: error.toJSON() as unknown as Json } },
    ]);
    throw error;
  }
  return undefined;
}

async function revoke(
  exec: Execution,
  step: string,
  name: string,
  effects: EffectUpdate[] = [],
): Promise<never> {
  await exec
    .write([{ type: "effect.revoked", step, data: { kind: "tool", name } }], { effects })
    .catch(() => undefined);
  throw new CancelledError(exec.runId, "cancel requested before the effect started");
}
