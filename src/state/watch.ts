import { InvalidArgumentError, TimeoutError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { waitInline } from "../runtime/inlineWait.js";
import { replayOutcome } from "../runtime/RunContext.js";
import type { StateKey, StateValue } from "../store/stateTypes.js";
import { changedOrPoll } from "./changes.js";
import type { Region } from "./regions.js";
import { STATE_STEP, type StateScope } from "./StateHandle.js";
import type { WatchOptions } from "./types.js";

/**
 * `watch(key, { after, timeoutMs })`: a durable wait for the key's version to
 * pass `after`, journaled like ctx.waitFor. It waits in memory for a short
 * while (polling, and woken at once by writes through this process), then
 * registers the watch and reads in one transaction: the value is there, or
 * the write that brings it wakes the suspended run. Its value is journaled,
 * so replay returns what the first execution saw.
 */
export async function watchStep(
  s: StateScope,
  r: Region,
  at: StateKey,
  options: WatchOptions,
  declared: () => Promise<void>,
): Promise<StateValue> {
  const after = options.after ?? 0;
  if (!Number.isInteger(after) || after < 0)
    throw new InvalidArgumentError(`watch() needs { after } ≥ 0, received ${String(after)}`, {
      field: "after",
    });
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0))
    throw new InvalidArgumentError(`watch() needs { timeoutMs } ≥ 0, received ${timeoutMs}`, {
      field: "timeoutMs",
    });
  const { ctx, exec } = s;
  const name = `${r.name}.watch`;
  const step = s.nextStep();
  const rec = exec.enter(ctx, step, STATE_STEP, name);
  try {
    if (rec?.outcome) return replayOutcome<StateValue>(step, rec.outcome);
    const clock = exec.host.clock;
    const store = exec.host.store;
    let deadline = rec?.wakeAt ?? null;
    if (timeoutMs !== undefined && deadline === null) {
      deadline = clock.now() + timeoutMs;
      await exec.write([
        { type: "timer.set", step, data: { kind: STATE_STEP, name, wakeAt: deadline } },
      ]);
    }
    await exec.viaStore(declared);
    const passed = (v: StateValue | undefined) => (v && v.version > after ? v : undefined);
    let found = await waitInline(exec, ctx.signal, {
      look: async () => passed(await exec.viaStore(() => store.readState(at))),
      wake: (ms) => changedOrPoll(store, at, ms),
      ...(deadline === null ? {} : { limitMs: deadline - clock.now() }),
    });
    found ??= await exec.viaStore(() => store.watchState(at, { runId: exec.runId, step }, after));
    if (found) {
      await exec.write([
        {
          type: "step.completed",
          step,
          data: { kind: STATE_STEP, name, value: found as unknown as Json },
        },
      ]);
      return found;
    }
    if (deadline !== null && clock.now() >= deadline) {
      const error = new TimeoutError(`watch of state '${r.name}/${at.key}'`, timeoutMs ?? 0);
      await exec.write([
        {
          type: "step.failed",
          step,
          data: { kind: STATE_STEP, name, error: error.toJSON() as unknown as Json },
        },
      ]);
      throw error;
    }
    return await exec.block(
      ctx.signal,
      `state ${r.name}/${at.key} past version ${after}`,
      deadline,
    );
  } finally {
    exec.leave();
  }
}
