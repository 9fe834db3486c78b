import { InvalidArgumentError, TimeoutError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import type { Execution } from "./Execution.js";
import { waitInline } from "./inlineWait.js";
import { replayOutcome, type RunContext, type WaitForOptions } from "./RunContext.js";

/** ctx.sleep: a durable timer; a short one is waited in-process, a long one suspends the run. */
export async function sleepStep(
  ctx: RunContext,
  exec: Execution,
  nextStep: () => string,
  ms: number,
): Promise<void> {
  if (!Number.isFinite(ms) || ms < 0)
    throw new InvalidArgumentError(`ctx.sleep needs a duration ≥ 0 ms, received ${ms}`);
  const step = nextStep();
  const rec = exec.enter(ctx, step, "sleep", "sleep");
  try {
    if (rec?.outcome) return;
    const clock = exec.host.clock;
    let wakeAt = rec?.wakeAt;
    if (wakeAt === undefined) {
      wakeAt = clock.now() + ms;
      await exec.write([
        { type: "timer.set", step, data: { kind: "sleep", name: "sleep", wakeAt } },
      ]);
    }
    const remaining = wakeAt - clock.now();
    if (remaining > exec.host.inlineSleepMs)
      return await exec.block(ctx.signal, `timer ${step}`, wakeAt);
    if (remaining > 0) await clock.sleep(remaining, ctx.signal);
    await exec.write([
      { type: "step.completed", step, data: { kind: "sleep", name: "sleep", value: null } },
    ]);
  } finally {
    exec.leave();
  }
}

/**
 * ctx.waitFor: consumes the next signal of that name, waiting for one in
 * memory for a short while (see waitInline), then suspended until one arrives.
 */
export async function waitForSignal<T>(
  ctx: RunContext,
  exec: Execution,
  nextStep: () => string,
  name: string,
  options: WaitForOptions,
): Promise<T> {
  if (typeof name !== "string" || name === "")
    throw new InvalidArgumentError("ctx.waitFor needs a signal name");
  const step = nextStep();
  const rec = exec.enter(ctx, step, "signal", name);
  try {
    if (rec?.outcome) return replayOutcome<T>(step, rec.outcome);
    const clock = exec.host.clock;
    let deadline = rec?.wakeAt ?? null;
    if (options.timeoutMs !== undefined && deadline === null) {
      deadline = clock.now() + options.timeoutMs;
      await exec.write([
        { type: "timer.set", step, data: { kind: "signal", name, wakeAt: deadline } },
      ]);
    }
    const next = await waitInline(exec, ctx.signal, {
      look: async () => {
        const signals = await exec.viaStore(() => exec.host.store.readSignals(exec.runId));
        const found = signals.find(
          (s) => s.name === name && !exec.journal.consumedSignals.has(s.id),
        );
        // Taken now, not once journaled: a sibling branch woken by the same signal must not take
        // it too. Should the write fail, this execution ends and the next reads the journal anew.
        if (found) exec.journal.consumedSignals.add(found.id);
        return found;
      },
      wake: (ms) => exec.host.inlineWaits.signalledOrPoll(exec.runId, ms),
      ...(deadline === null ? {} : { limitMs: deadline - clock.now() }),
    });
    if (next) {
      await exec.write([
        {
          type: "step.completed",
          step,
          data: { kind: "signal", name, signalId: next.id, value: next.payload },
        },
      ]);
      return next.payload as T;
    }
    if (deadline !== null && clock.now() >= deadline) {
      const error = new TimeoutError(`signal '${name}'`, options.timeoutMs ?? 0);
      await exec.write([
        {
          type: "step.failed",
          step,
          data: { kind: "signal", name, error: error.toJSON() as unknown as Json },
        },
      ]);
      throw error;
    }
    return await exec.block(ctx.signal, `signal ${name}`, deadline);
  } finally {
    exec.leave();
  }
}
