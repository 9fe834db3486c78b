import type { LazyLinkedAbort } from "../core/abort.js";
import { CancelledError, InvalidArgumentError } from "../core/errors.js";
import { describeValue } from "../core/validate.js";
import { isThenable } from "./ctxChecks.js";
import type { Execution } from "./Execution.js";
import type { Branch, RunContext } from "./RunContext.js";
import { stopChild, stopReason, type SpawnedChild } from "./spawn.js";

/* ctx.all and ctx.race: groups of steps that stop together. */

/** The child behind each `ctx.spawn` promise, for `ctx.all` to stop when a sibling fails. */
export const spawnedChildren = new WeakMap<Promise<unknown>, SpawnedChild>();
/** Steps started with a signal of their own, by the promise the agent holds. */
export const stoppableSteps = new WeakMap<Promise<unknown>, LazyLinkedAbort>();

/** What a group uses of the context that starts it. */
export interface GroupHost {
  readonly ctx: RunContext;
  readonly exec: Execution;
  /** Numbers the group itself, in the context's sequence. */
  nextStep(): string;
  /** Starts branch `i` of `group` (on the next microtask) under a signal of its own. */
  branch<T>(
    group: string,
    i: number,
    fn: Branch<T>,
  ): { controller: AbortController; promise: Promise<T> };
}

/** `ctx.all`: see RunContext.all. */
export async function allOf(host: GroupHost, items: readonly unknown[]): Promise<unknown[]> {
  if (!Array.isArray(items))
    throw new InvalidArgumentError("ctx.all needs an array of promises or branches");
  // Checked before anything starts: a plain value would fail later, inside the group, untyped.
  const bad = items.findIndex((item) => typeof item !== "function" && !isThenable(item));
  if (bad !== -1)
    throw new InvalidArgumentError(
      `ctx.all item [${bad}] is neither a step promise nor a branch (ctx) => …, received ${describeValue(items[bad])}`,
      { field: `items[${bad}]` },
    );
  const group = host.nextStep();
  const branches: { controller: AbortController; promise: Promise<unknown> }[] = [];
  const promises = (items as readonly (Promise<unknown> | Branch<unknown>)[]).map((item, i) => {
    if (typeof item !== "function") return item;
    const branch = host.branch(group, i, item);
    branches.push(branch);
    return branch.promise;
  });
  const failure = new Promise<never>((_, reject) => {
    for (const p of promises) Promise.resolve(p).catch(reject);
  });
  try {
    return await Promise.race([Promise.all(promises), failure]);
  } catch (err) {
    // Branches are ours to stop and wait for, and so are children spawned by plain step
    // promises; other plain step promises may be blocked forever.
    for (const b of branches) b.controller.abort(err);
    const reason = stopReason(err);
    const stopped = promises.flatMap((p) => {
      const id = spawnedChildren.get(p)?.id;
      if (id !== undefined) return [stopChild(host.exec, id, reason).then(() => p)];
      const step = stoppableSteps.get(p);
      step?.abort(err);
      return step ? [p] : [];
    });
    await Promise.allSettled([...branches.map((b) => b.promise), ...stopped]);
    throw err;
  }
}

/** `ctx.race`: see RunContext.race. */
export async function raceOf<T>(host: GroupHost, branches: readonly Branch<T>[]): Promise<T> {
  if (
    !Array.isArray(branches) ||
    branches.length === 0 ||
    // findIndex, not some: some skips a sparse array's holes, which are not branches either.
    branches.findIndex((b) => typeof b !== "function") !== -1
  ) {
    throw new InvalidArgumentError("ctx.race needs a non-empty array of branches (ctx) => promise");
  }
  const { exec } = host;
  const group = host.nextStep();
  const rec = exec.enter(host.ctx, group, "race", "race");
  // The race itself is not work: a run whose branches all wait must be able to suspend.
  exec.leave();
  const recorded = rec?.outcome?.ok ? (rec.outcome.value as { winner: number }).winner : undefined;
  const lost = () => new CancelledError(exec.runId, "lost the race");
  const runs = branches.map((b: Branch<T>, i) => {
    const run = host.branch(group, i, b);
    // Replayed losers never start: the branch body runs on the next microtask.
    if (recorded !== undefined && i !== recorded) run.controller.abort(lost());
    return run;
  });
  const indexed = runs.map((r, i) =>
    r.promise.then(
      () => i,
      () => i,
    ),
  );
  const winner = recorded ?? (await Promise.race(indexed));
  for (const [i, r] of runs.entries()) if (i !== winner) r.controller.abort(lost());
  await Promise.allSettled(runs.map((r) => r.promise));
  if (recorded === undefined) {
    await exec.write([
      {
        type: "step.completed",
        step: group,
        data: { kind: "race", name: "race", value: { winner } },
      },
    ]);
  }
  return await (runs[winner] as { promise: Promise<T> }).promise;
}
