import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla } from "../src/index.js";
import { tempStore } from "./helpers/tempStore.js";

describe("result() of a run this process executes", () => {
  it("takes the run its execution hands over, without reading it from the store", async () => {
    const f = await Flotilla.open({ store: tempStore() });
    try {
      const double = f.agent("double", (_ctx, n: number) => Promise.resolve(2 * n));
      let reads = 0;
      const getRun = f.store.getRun.bind(f.store);
      f.store.getRun = (id) => {
        reads++;
        return getRun(id);
      };
      for (let i = 0; i < 5; i++) assert.equal(await (await f.start(double, i)).result(), 2 * i);
      assert.equal(reads, 0);
    } finally {
      await f.close();
    }
  });

  it("still settles when the run suspends here and ends in a later execution", async () => {
    const path = tempStore();
    const f = await Flotilla.open({ store: path });
    const other = await Flotilla.open({ store: path, worker: false });
    try {
      const waits = f.agent("waits", (ctx) => ctx.waitFor<string>("go"));
      const run = await f.start(waits, null);
      const result = run.result({ timeoutMs: 20_000 });
      // The execution that suspends hands nothing over: the waiter learns of the end from the next one.
      await other.handle(run.id).signal("go", "done");
      assert.equal(await result, "done");
    } finally {
      await other.close();
      await f.close();
    }
  });
});
