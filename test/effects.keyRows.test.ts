import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla } from "../src/index.js";
import { tempStore } from "./helpers/tempStore.js";

describe("effect keys in the store", () => {
  it("registers a key the tool chooses, and journals a call with the default key without one", async () => {
    const f = await Flotilla.open({ store: tempStore() });
    try {
      const note = f.tool("notes.add", {
        effect: "idempotent",
        run: (a: { text: string }) => Promise.resolve(a.text.length),
      });
      const charge = f.tool("payments.charge", {
        effect: "idempotent",
        key: (a: { order: string }) => `charge:${a.order}`,
        run: () => Promise.resolve("ch_1"),
      });
      const agent = f.agent("both", async (ctx) => [
        await ctx.call(note, { text: "hello" }),
        await ctx.call(charge, { order: "o-1" }),
      ]);
      const handle = await f.start(agent, null);
      assert.deepEqual(await handle.result(), [5, "ch_1"]);

      // The default key (<run>:<step>) is no other unit of work's to claim: the journal says it all.
      assert.equal(await f.store.getEffect("notes.add", `${handle.id}:0`), undefined);
      const held = await f.store.getEffect("payments.charge", "charge:o-1");
      assert.equal(held?.state, "committed");
      assert.equal(held?.runId, handle.id);
      const journal = (await f.store.readJournal(handle.id)).map((e) => `${e.type}:${e.step}`);
      for (const step of ["0", "1"])
        for (const type of ["effect.intent", "effect.committed"])
          assert.ok(
            journal.includes(`${type}:${step}`),
            `${type}:${step} in ${journal.join(", ")}`,
          );
    } finally {
      await f.close();
    }
  });
});
