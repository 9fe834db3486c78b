import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla } from "../src/index.js";
import type { Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

/** Counts the claims `store`'s workers send from now on. */
function countClaims(store: Store): { readonly count: number } {
  const counter = { count: 0 };
  const claim = store.claimRuns.bind(store);
  store.claimRuns = (options) => {
    counter.count++;
    return claim(options);
  };
  return counter;
}

describe("when a worker claims", () => {
  it("a run ending frees a slot but sends no claim: nothing was announced since the last one found less than it asked for", async () => {
    // A long poll: only announcements and slots could make this worker claim during the test.
    const f = await Flotilla.open({ store: tempStore(), worker: { pollMs: 60_000 } });
    try {
      const noop = f.agent("noop", () => Promise.resolve(1));
      await (await f.start(noop, null)).result();
      const claims = countClaims(f.store);
      for (let i = 0; i < 30; i++) await (await f.start(noop, null)).result();
      // Each run was created leased to this worker; before, each one's end sent a claim (30).
      assert.equal(claims.count, 0);
    } finally {
      await f.close();
    }
  });

  it("a run another process creates is announced and claimed at once, long before the poll", async () => {
    const path = tempStore();
    const worker = await Flotilla.open({ store: path, worker: { pollMs: 60_000 } });
    const client = await Flotilla.open({ store: path, worker: false });
    try {
      worker.agent("echo", (_ctx, n: number) => Promise.resolve(n));
      const echo = client.agent("echo", (_ctx, n: number) => Promise.resolve(n));
      await worker.worker();
      const claims = countClaims(worker.store);
      // Settled well within the 60 s poll: each run was claimed on its announcement.
      for (let i = 0; i < 3; i++)
        assert.equal(await (await client.start(echo, i)).result({ timeoutMs: 10_000 }), i);
      assert.ok(claims.count >= 3, `claims sent: ${claims.count}`);
    } finally {
      await client.close();
      await worker.close();
    }
  });
});
