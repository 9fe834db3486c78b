import { region } from "../../src/state/regions.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import { inputOf, think, type Kind } from "./workload.js";

/** The regions the benchmark writes: one per kind, plus a claim queue. */
export const REGIONS = {
  counter: region("bench.state.counter", { isolation: "findings", reducer: "counter" }),
  union: region("bench.state.union", { isolation: "findings", reducer: "union" }),
  append: region("bench.state.append", { isolation: "findings", reducer: "append" }),
  jobs: region("bench.state.jobs", { isolation: "claim", leaseMs: 60_000 }),
};

export interface UpdaterInput {
  kinds: Kind[];
  key: string;
  agent: number;
  updates: number;
  thinkMs: number;
}

/** The benchmark's agents, defined alike in the harness and in every worker process. */
export function defineAgents(f: Flotilla) {
  return {
    /** `updates` times: thinks, then merges its update into each kind's key. */
    updater: f.agent("bench.state.updater", async (ctx, input: UpdaterInput) => {
      for (let i = 0; i < input.updates; i++) {
        await think(input.thinkMs);
        for (const kind of input.kinds)
          await ctx.state(REGIONS[kind]).write(input.key, inputOf(kind, input.agent, i));
      }
      return null;
    }),
    /** Takes items until none is left, marking each done; returns the ids it took. */
    taker: f.agent("bench.state.taker", async (ctx, input: { thinkMs: number }) => {
      const taken: string[] = [];
      for (;;) {
        const item = await ctx.state(REGIONS.jobs).take();
        if (!item) return taken;
        await think(input.thinkMs);
        await ctx.state(REGIONS.jobs).done(item.id);
        taken.push(item.id);
      }
    }),
  };
}
