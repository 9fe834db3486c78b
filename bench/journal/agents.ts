import type { Agent } from "../../src/runtime/Agent.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";

/** The agents every journal measure runs; a worker process defines the same ones. */
export interface StepAgents {
  /** `n` sequential read steps; resolves with the ms from before the first to after the last. */
  reads: Agent<number, number>;
  /**
   * The same with an idempotent tool: intent before each call (not flushed
   * on its own), outcome after. Its key is the default, `<run>:<step>`,
   * which no other run can claim: the journal alone holds its state.
   */
  effects: Agent<number, number>;
  /** The same with a key the tool chooses: registered in the store too, for other runs to find. */
  keyedEffects: Agent<number, number>;
  /** Returns at once: the cost of a run itself. */
  zeroStep: Agent<null, null>;
}

/**
 * Defines the bench's tools and agents on `f`. The tools return their input,
 * so a step's cost is the journal's, not the tool's. The elapsed time an agent
 * returns is a benchmark reading, not a decision: it is never replayed.
 */
export function defineStepAgents(f: Flotilla): StepAgents {
  const lookup = f.tool("bench.lookup", {
    effect: "read",
    run: (a: { i: number }) => Promise.resolve(a),
  });
  const note = f.tool("bench.note", {
    effect: "idempotent",
    run: (a: { i: number }) => Promise.resolve(a),
  });
  // Unique per call: a key seen before would be reused (its result returned, nothing called).
  const keyedNote = f.tool("bench.keyed-note", {
    effect: "idempotent",
    key: (a: { run: string; i: number }) => `${a.run}/${a.i}`,
    run: (a: { run: string; i: number }) => Promise.resolve(a),
  });
  return {
    reads: f.agent("bench.reads", async (ctx, n: number) => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await ctx.call(lookup, { i });
      return performance.now() - t0;
    }),
    effects: f.agent("bench.effects", async (ctx, n: number) => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await ctx.call(note, { i });
      return performance.now() - t0;
    }),
    keyedEffects: f.agent("bench.keyed-effects", async (ctx, n: number) => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await ctx.call(keyedNote, { run: ctx.runId, i });
      return performance.now() - t0;
    }),
    zeroStep: f.agent("bench.zero-step", () => Promise.resolve(null)),
  };
}

/** A run not settled by then is a hang to report (the result rejects), never to wait out. */
export const SETTLES = { timeoutMs: 120_000 } as const;
