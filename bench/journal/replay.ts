import { Flotilla } from "../../src/runtime/Flotilla.js";
import type { JournalEvent } from "../../src/store/types.js";
import { SETTLES } from "./agents.js";

export interface ReplayFigures {
  sequentialChildren: number;
  parentExecutions: number;
  stepsReplayed: number;
}

/** Journal events that give a step its outcome. */
const OUTCOMES = new Set(["step.completed", "step.failed", "effect.committed", "effect.failed"]);

/**
 * Executions of a run, and the steps each found already done in the journal
 * (and so replayed) when it started.
 */
export function executionsOf(events: readonly JournalEvent[]): {
  executions: number;
  stepsReplayed: number;
} {
  const done = new Set<string>();
  let executions = 0;
  let stepsReplayed = 0;
  for (const e of [...events].sort((a, b) => a.id - b.id)) {
    if (e.type === "run.resumed") {
      executions++;
      stepsReplayed += done.size;
    } else if (e.step !== null && OUTCOMES.has(e.type)) done.add(e.step);
  }
  return { executions, stepsReplayed };
}

/**
 * A parent that spawns `children` trivial children one after another, on
 * SQLite: how often the parent executes again, and how many steps it
 * replays in all. Resuming from scratch after each child is quadratic.
 */
export async function replay(
  store: string,
  children: number,
  onChild: (done: number) => void,
): Promise<ReplayFigures> {
  const f = await Flotilla.open({ store });
  try {
    const lookup = f.tool("bench.lookup", {
      effect: "read",
      run: (a: { i: number }) => Promise.resolve(a),
    });
    const child = f.agent("bench.replay.child", (ctx, i: number) => ctx.call(lookup, { i }));
    const parent = f.agent("bench.replay.parent", async (ctx, n: number) => {
      for (let i = 0; i < n; i++) {
        await ctx.spawn(child, i);
        onChild(i + 1);
      }
      return n;
    });
    const run = await f.start(parent, children);
    await run.result(SETTLES);
    const { executions, stepsReplayed } = executionsOf(await f.store.readJournal(run.id));
    return { sequentialChildren: children, parentExecutions: executions, stepsReplayed };
  } finally {
    await f.close();
  }
}
