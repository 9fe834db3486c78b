import {
  StepFailedError,
  CancelledError,
  EffectInProgressError,
  EffectOutcomeUnknownError,
  isFlotillaError,
  serializeError,
} from "../core/errors.js";
import { jsonCopy, type Json } from "../core/json.js";
import type { StepRecord } from "../journal/JournalIndex.js";
import type { Execution } from "../runtime/Execution.js";
import { replayOutcome } from "../runtime/RunContext.js";
import { runTool } from "./runTool.js";
import { effectNotApplied, type Tool } from "./Tool.js";

/**
 * The effect protocol for a tool that changes the world:
 *
 *   intent(key, args) ─► call ─► committed(result) | failed(error)
 *
 * The intent is durable before the tool is called and the outcome durable
 * before the agent sees it. A step found with an intent and no outcome was cut
 * short by a crash: idempotent tools are called again with the same key,
 * tools with `reconcile` are asked, and anything else is parked as
 * outcome-unknown — never re-executed blindly.
 */
export async function performEffect<A, R>(
  exec: Execution,
  signal: AbortSignal,
  step: string,
  rec: StepRecord | undefined,
  tool: Tool<A, R>,
  args: A,
  deadline: number | undefined,
): Promise<R> {
  if (rec?.outcome) return replayOutcome<R>(step, rec.outcome);
  if (rec?.revoked)
    throw new CancelledError(exec.runId, "the effect was revoked before it started");
  const name = tool.name;
  const base = { kind: "tool", name };

  if (!rec?.intent) {
    const key = tool.key ? tool.key(args) : `${exec.runId}:${step}`;
    if (typeof key !== "string" || key === "") {
      throw new TypeError(
        `tool '${name}': key(args) must return a non-empty string, received ${JSON.stringify(key)}`,
      );
    }
    if (signal.aborted) return revoke(exec, step, name);
    if (tool.key) {
      const holder = await exec.host.store.claimEffectKey({
        key,
        runId: exec.runId,
        step,
        tool: name,
      });
      const ours = holder.runId === exec.runId && holder.step === step;
      if (!ours && holder.state === "committed") {
        // The same logical unit of work already happened (maybe in another run): reuse its result.
        const value = holder.result ?? null;
        await exec.write([
          {
            type: "effect.intent",
            step,
            data: { ...base, key, effect: tool.effect, args: jsonCopy(args) as Json },
          },
          {
            type: "effect.committed",
            step,
            data: { ...base, value, dedupedFrom: { runId: holder.runId, step: holder.step } },
          },
        ]);
        return value as R;
      }
      if (!ours && tool.effect !== "idempotent") {
        const error = new EffectInProgressError(key, holder.runId);
        await exec.write([
          {
            type: "step.failed",
            step,
            data: { ...base, error: error.toJSON() as unknown as Json },
          },
        ]);
        throw error;
      }
    }
    try {
      await exec.write(
        [
          {
            type: "effect.intent",
            step,
            data: { ...base, key, effect: tool.effect, args: jsonCopy(args) as Json },
          },
        ],
        { effects: [{ key, runId: exec.runId, step, tool: name, state: "intent" }] },
        true,
      );
    } catch (err) {
      if (isFlotillaError(err, "FLOTILLA_CANCELLED")) return revoke(exec, step, name);
      throw err;
    }
    return attempt(exec, signal, step, tool, args, key, 1, deadline);
  }

  const key = rec.intent.key;
  const next = rec.attempts + 1;
  if (rec.retryApproved || tool.effect === "idempotent") {
    await exec.write([
      { type: "effect.attempt", step, data: { ...base, attempt: next, recovery: true } },
    ]);
    return attempt(exec, signal, step, tool, args, key, next, deadline);
  }
  if (tool.reconcile && !rec.unknown) {
    const found = await tool.reconcile(args, {
      idempotencyKey: key,
      signal,
      attempt: rec.attempts,
    });
    if (found.status === "done")
      return commit(exec, step, tool, key, found.result, { reconciled: true });
    if (found.status === "not-done") {
      await exec.write([
        { type: "effect.attempt", step, data: { ...base, attempt: next, reconciled: "not-done" } },
      ]);
      return attempt(exec, signal, step, tool, args, key, next, deadline);
    }
  }
  return park(exec, step, tool, key, rec.unknown);
}

async function attempt<A, R>(
  exec: Execution,
  signal: AbortSignal,
  step: string,
  tool: Tool<A, R>,
  args: A,
  key: string,
  n: number,
  deadline: number | undefined,
): Promise<R> {
  let result: R;
  try {
    ({ value: result } = await runTool(exec.host, tool, args, {
      idempotencyKey: key,
      signal,
      firstAttempt: n,
      deadline,
      tenant: exec.run.tenant ?? "default",
    }));
  } catch (err) {
    // A failure only counts as "nothing happened" when repeating is safe or the tool says so.
    if (tool.effect === "idempotent" || effectNotApplied(err)) {
      const error = serializeError(err);
      await exec.write(
        [
          {
            type: "effect.failed",
            step,
            data: { kind: "tool", name: tool.name, error: error as unknown as Json },
          },
        ],
        { effects: [{ key, runId: exec.runId, step, tool: tool.name, state: "failed" }] },
      );
      throw new StepFailedError(step, error, { cause: err });
    }
    return park(exec, step, tool, key);
  }
  return commit(exec, step, tool, key, result, {});
}

async function commit<A, R>(
  exec: Execution,
  step: string,
  tool: Tool<A, R>,
  key: string,
  result: R,
  meta: Record<string, Json>,
): Promise<R> {
  const value = jsonCopy(result);
  await exec.write(
    [
      {
        type: "effect.committed",
        step,
        data: { kind: "tool", name: tool.name, ...meta, value: (value ?? null) as Json },
      },
    ],
    {
      effects: [
        {
          key,
          runId: exec.runId,
          step,
          tool: tool.name,
          state: "committed",
          result: value ?? null,
        },
      ],
    },
  );
  return value;
}

async function park<A, R>(
  exec: Execution,
  step: string,
  tool: Tool<A, R>,
  key: string,
  alreadyJournaled = false,
): Promise<never> {
  const error = new EffectOutcomeUnknownError(exec.runId, step, tool.name, key);
  if (!alreadyJournaled)
    await exec.write(
      [{ type: "effect.unknown", step, data: { kind: "tool", name: tool.name, key } }],
      {
        effects: [{ key, runId: exec.runId, step, tool: tool.name, state: "unknown" }],
      },
    );
  exec.stop("park", error);
  throw error;
}

async function revoke(exec: Execution, step: string, name: string): Promise<never> {
  await exec
    .write([{ type: "effect.revoked", step, data: { kind: "tool", name } }])
    .catch(() => undefined);
  throw new CancelledError(exec.runId, "cancel requested before the effect started");
}
