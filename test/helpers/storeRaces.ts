import assert from "node:assert/strict";
import { it } from "node:test";
import { isFlotillaError } from "../../src/core/errors.js";
import { newRunId } from "../../src/core/ids.js";
import { claimOne, pause, type Suite } from "./storeSuite.js";

/**
 * Writers racing on one store through two handles (two connections, as two
 * processes would have): part of the store conformance suite, run on every
 * adapter. Each race runs for many rounds, since one round may serialize.
 */
export function storeRaces(suite: Suite): void {
  it("settles concurrent creates with one idempotency key on one run, across handles", async () => {
    const { store, f } = suite();
    const other = await f.open();
    try {
      // A few rounds: one race may happen to serialize.
      for (let round = 0; round < 5; round++) {
        const key = `race-${newRunId()}`;
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 ? other : store).createRun({
              id: newRunId(),
              agent: "a",
              input: { x: 1 },
              idempotencyKey: key,
            }),
          ),
        );
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(new Set(results.map((r) => r.run.id)).size, 1);
      }
    } finally {
      await other.close();
    }
  });

  it("hands one effect key to one unit of work when claims race, across handles", async () => {
    const { store, f } = suite();
    const other = await f.open();
    try {
      for (let round = 0; round < 5; round++) {
        const key = `race:${newRunId()}`;
        const holders = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 ? other : store).claimEffectKey({
              key,
              runId: `run-${i}`,
              step: String(i),
              tool: "refund",
              argsHash: "h",
            }),
          ),
        );
        const winners = new Set(holders.map((h) => `${h.runId}/${h.step}`));
        assert.equal(winners.size, 1, [...winners].join(", "));
        assert.deepEqual(await store.getEffect("refund", key), holders[0]);
      }
    } finally {
      await other.close();
    }
  });

  it("never hands one run to two concurrent claimers", async () => {
    const { store, f } = suite();
    const other = await f.open();
    try {
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++)
        ids.add((await store.createRun({ id: newRunId(), agent: "race", input: i })).run.id);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? other : store).claimRuns({
            workerId: `w${i}`,
            agents: ["race"],
            limit: 7,
            leaseMs: 60_000,
          }),
        ),
      );
      const claimed = claims.flat().map((r) => r.id);
      assert.equal(new Set(claimed).size, claimed.length, "a run was claimed twice");
      assert.equal(claimed.length, 40);
    } finally {
      await other.close();
    }
  });

  it("lets step commits racing a take-over land only where the new holder's journal shows them", async () => {
    const { store, f } = suite();
    // Lone-event commits (one fenced statement each) against a claim on another handle, as
    // the first leases expire: a commit lands before the take-over and the claim's journal
    // holds it, or it is refused and never lands (or the claim skips the run the commit
    // holds, and the commit lands under the lease it still has).
    const other = await f.open();
    const outcomes = { landed: 0, refused: 0, skipped: 0 };
    const RUNS = 8;
    try {
      for (let round = 0; round < 60; round++) {
        // An agent per round: a run a claim skipped stays claimable, and must not answer later.
        const agent = `takeover-${round}`;
        for (let i = 0; i < RUNS; i++) await store.createRun({ id: newRunId(), agent, input: i });
        const first = await store.claimRuns({
          workerId: "w1",
          agents: [agent],
          limit: RUNS,
          leaseMs: 1,
        });
        assert.equal(first.length, RUNS);
        await new Promise((r) => setTimeout(r, 3));
        const [claims, ...commits] = await Promise.allSettled([
          other.claimRuns({
            workerId: "w2",
            agents: [agent],
            limit: RUNS,
            leaseMs: 60_000,
            withJournals: true,
          }),
          ...first.map((run) =>
            store.commit({
              runId: run.id,
              fence: { leaseToken: run.leaseToken },
              events: [{ type: "step.completed", step: "0", data: round }],
            }),
          ),
        ]);
        assert.equal(claims.status, "fulfilled");
        const taken = new Map(
          (claims.status === "fulfilled" ? claims.value : []).map((r) => [r.id, r]),
        );
        for (const [i, run] of first.entries()) {
          const commit = commits[i];
          const holder = taken.get(run.id);
          if (!holder) {
            // Skipped while its commit held it: nothing took the lease, so the commit lands.
            assert.equal(commit?.status, "fulfilled");
            outcomes.skipped++;
            continue;
          }
          const seen = (holder.journal ?? []).some((e) => e.type === "step.completed");
          if (commit?.status === "fulfilled") {
            outcomes.landed++;
            assert.ok(seen, "a commit that landed is in the new holder's journal");
          } else {
            outcomes.refused++;
            assert.ok(isFlotillaError(commit?.reason, "FLOTILLA_LEASE_LOST"));
            const stored = (await store.readJournal(run.id)).some(
              (e) => e.type === "step.completed",
            );
            assert.ok(!stored && !seen, "a refused commit never lands");
          }
        }
      }
    } finally {
      await other.close();
    }
    // The race was run: rounds end in take-overs.
    assert.ok(outcomes.landed + outcomes.refused > 0, JSON.stringify(outcomes));
  });

  it("refuses every effect intent after a racing cancel request and keeps every one before it", async () => {
    // One run's intents, one after another as its steps make them, while another handle
    // requests the cancel: the journal keeps exactly the intents that were acknowledged,
    // all before the request; the first refused one is CANCELLED and nothing follows it.
    const { store, f } = suite();
    const other = await f.open();
    let raced = 0;
    try {
      for (let round = 0; round < 40; round++) {
        const agent = `cancel-race-${round}`;
        const { run } = await store.createRun({ id: newRunId(), agent, input: null });
        const claimed = await claimOne(store, agent);
        let cancelReturned = false;
        const attempts: { step: string; afterCancel: boolean; refusal?: unknown }[] = [];
        const intents = (async () => {
          for (let i = 0; i < 400; i++) {
            const attempt = { step: String(i), afterCancel: cancelReturned };
            attempts.push(attempt);
            try {
              await store.commit({
                runId: run.id,
                fence: { leaseToken: claimed.leaseToken, requireNotCancelled: true },
                events: [{ type: "effect.intent", step: attempt.step, data: { round } }],
              });
            } catch (err) {
              return Object.assign(attempt, { refusal: err });
            }
          }
          return undefined;
        })();
        await pause(round % 4);
        await other.requestCancel(run.id, "race");
        cancelReturned = true;
        const refused = await intents;
        assert.ok(refused, "intents went on after the cancel request");
        assert.ok(isFlotillaError(refused.refusal, "FLOTILLA_CANCELLED"), String(refused.refusal));
        const landed = attempts.filter((a) => a !== refused);
        assert.ok(
          landed.every((a) => !a.afterCancel),
          "an intent begun after the cancel returned was acknowledged",
        );
        const types = (await store.readJournal(run.id)).map((e) =>
          e.type === "effect.intent" ? `intent ${e.step ?? ""}` : e.type,
        );
        assert.deepEqual(types, [
          "run.created",
          ...landed.map((a) => `intent ${a.step}`),
          "run.cancel-requested",
        ]);
        if (landed.length > 0) raced++;
      }
    } finally {
      await other.close();
    }
    // The race was run: in some rounds intents landed before the request came.
    assert.ok(raced > 0, `no round had an intent land before the cancel (${raced})`);
  });
}
