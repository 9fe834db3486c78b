import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
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

  it("records an operator's decision on a parked call's own key, freeing it when failed", async () => {
    const f = await Flotilla.open({ store: tempStore() });
    try {
      let calls = 0;
      const charge = f.tool("payments.charge", {
        effect: "irreversible",
        key: (a: { order: string }) => `charge:${a.order}`,
        run: () => {
          calls++;
          return calls === 1 ? Promise.reject(new Error("connection reset")) : Promise.resolve(1);
        },
      });
      const agent = f.agent("charger", (ctx, order: string) => ctx.call(charge, { order }));
      const run = await f.start(agent, "o-7");
      await assert.rejects(run.result(), (err) => isFlotillaError(err, "FLOTILLA_RUN_PARKED"));
      assert.equal((await f.store.getEffect("payments.charge", "charge:o-7"))?.state, "unknown");
      await f.resolveEffect(run.id, "0", { outcome: "failed", reason: "bank says no charge" });
      assert.equal((await f.store.getEffect("payments.charge", "charge:o-7"))?.state, "failed");
    } finally {
      await f.close();
    }
  });

  it("frees a claimed key when a cancel refuses the intent, so a later run can call with it", async () => {
    const f = await Flotilla.open({ store: tempStore() });
    try {
      let sent = 0;
      const send = f.tool("mail.send", {
        effect: "irreversible",
        key: (a: { to: string }) => `mail:${a.to}`,
        run: () => Promise.resolve(++sent),
      });
      const agent = f.agent("mailer", (ctx, to: string) => ctx.call(send, { to }));
      // The cancel lands between the key's claim and the intent: the intent is refused.
      const claim = f.store.claimEffectKey.bind(f.store);
      let cancelNext = true;
      f.store.claimEffectKey = async (c) => {
        const holder = await claim(c);
        if (cancelNext) await f.store.requestCancel(c.runId, "stop pressed");
        cancelNext = false;
        return holder;
      };
      const first = await f.start(agent, "ops@example.com");
      await assert.rejects(first.result(), (err) => isFlotillaError(err, "FLOTILLA_CANCELLED"));
      assert.equal(sent, 0);
      assert.equal((await f.store.getEffect("mail.send", "mail:ops@example.com"))?.state, "failed");

      const second = await f.start(agent, "ops@example.com");
      assert.equal(await second.result(), 1);
      assert.equal(sent, 1);
    } finally {
      await f.close();
    }
  });
});
