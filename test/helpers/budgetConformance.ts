import assert from "node:assert/strict";
import { it } from "node:test";
import { newRunId } from "../../src/core/ids.js";
import { claimOne, pause, type Suite } from "./storeSuite.js";

/** A reservation of `usd` and `tokens` under `id` (by run `runId`), for scopes the caller adds. */
function hold(id: string, usd: number, tokens: number, runId = `run-of-${id}`) {
  return { id, runId, scopes: [], amount: { usd, tokens }, ttlMs: 60_000 };
}

/**
 * Budget reservations: all scopes or none, never past a limit, released on
 * expiry and on take-over. Part of the store conformance suite, run on every adapter.
 */
export function budgetConformance(suite: Suite): void {
  it("reserves budgets in every scope or none, never past a limit, even concurrently", async () => {
    const { store, f } = suite();
    const other = await f.open();
    try {
      const run = `run:${newRunId()}`;
      const tenant = `tenant:${newRunId()}`;
      const scopes = [
        { scope: run, usd: 1 },
        { scope: tenant, tokens: 1_000 },
      ];
      const ids = Array.from({ length: 16 }, () => newRunId());
      const answers = await Promise.all(
        ids.map((id, i) => (i % 2 ? other : store).reserveBudget({ ...hold(id, 0.1, 10), scopes })),
      );
      assert.equal(answers.filter((a) => a === null).length, 10);
      const denial = answers.find((a) => a !== null);
      assert.equal(denial?.scope, run);
      assert.equal(denial?.resource, "usd");
      assert.equal(
        (await store.readBudget(tenant)).reservedTokens,
        100,
        "refusals reserved nothing",
      );
      const granted = ids.find((_, i) => answers[i] === null)!;
      await store.settleBudget(granted, [run, tenant], { usd: 0.04, tokens: 7 });
      const after = await store.readBudget(run);
      assert.ok(Math.abs(after.reservedUsd - 0.9) < 1e-9);
      assert.ok(Math.abs(after.spentUsd - 0.04) < 1e-9);
      assert.equal((await store.readBudget(tenant)).spentTokens, 7);
      const tokenDenial = await store.reserveBudget({
        ...hold(newRunId(), 0, 904),
        scopes: scopes.slice(1),
      });
      assert.equal(tokenDenial?.resource, "tokens");
      assert.deepEqual(await store.readBudget(`run:${newRunId()}`), {
        spentUsd: 0,
        reservedUsd: 0,
        spentTokens: 0,
        reservedTokens: 0,
      });
    } finally {
      await other.close();
    }
  });

  it("releases a reservation its holder never settles once it expires", async () => {
    const { store } = suite();
    const scope = `tenant:${newRunId()}`;
    const scopes = [{ scope, usd: 1 }];
    assert.equal(await store.reserveBudget({ ...hold(newRunId(), 0.8, 5), scopes }), null);
    const refused = await store.reserveBudget({ ...hold(newRunId(), 0.8, 5), scopes });
    assert.equal(refused?.scope, scope, "an unexpired reservation holds the budget");

    const other = `tenant:${newRunId()}`;
    const lost = newRunId();
    const again = [{ scope: other, usd: 1 }];
    assert.equal(
      await store.reserveBudget({ ...hold(lost, 0.8, 5), scopes: again, ttlMs: 1 }),
      null,
    );
    await pause(20);
    const next = newRunId();
    assert.equal(await store.reserveBudget({ ...hold(next, 0.8, 5), scopes: again }), null);
    let usage = await store.readBudget(other);
    assert.ok(Math.abs(usage.reservedUsd - 0.8) < 1e-9, `reserved ${usage.reservedUsd}`);
    // The lost holder comes back after all: its spend counts, its hold is not released twice.
    await store.settleBudget(lost, [other], { usd: 0.3, tokens: 3 });
    await store.settleBudget(next, [other], { usd: 0.5, tokens: 4 });
    usage = await store.readBudget(other);
    assert.ok(Math.abs(usage.spentUsd - 0.8) < 1e-9, `spent ${usage.spentUsd}`);
    assert.equal(usage.reservedUsd, 0);
    assert.equal(usage.spentTokens, 7);
  });

  it("reserves, expires and settles across overlapping scopes concurrently without deadlock or drift", async () => {
    const { store, f } = suite();
    const other = await f.open();
    try {
      const names = ["a", "b", "c"].map((n) => `mix:${n}:${newRunId()}`);
      // Each reservation charges two scopes, named in different orders, so any
      // lock taken in argument order rather than name order would deadlock.
      const pairs = [0, 1, 2].map((i) => [names[i]!, names[(i + 1) % 3]!]);
      const ids = Array.from({ length: 30 }, () => newRunId());
      const reserve = (id: string, i: number) =>
        (i % 2 ? other : store).reserveBudget({
          ...hold(id, 0.01, 1),
          scopes: pairs[i % 3]!.map((scope) => ({ scope, usd: 100 })),
          ttlMs: i % 3 === 0 ? 1 : 60_000,
        });
      assert.deepEqual(
        await Promise.all(ids.map(reserve)),
        ids.map(() => null),
      );
      await pause(20);
      // Settles race the sweep of the expired third (made by the reserves below).
      await Promise.all([
        ...ids.map((id, i) =>
          (i % 2 ? store : other).settleBudget(id, pairs[i % 3]!, { usd: 0.02, tokens: 2 }),
        ),
        ...ids.slice(0, 6).map((_, i) => reserve(newRunId(), i * 3)),
      ]);
      await pause(20);
      // Any reservation sweeps every expired one, whatever its scopes.
      const sweeper = { ...hold(newRunId(), 0, 0), scopes: [{ scope: `mix:z:${newRunId()}` }] };
      assert.equal(await store.reserveBudget(sweeper), null);
      for (const scope of names) {
        const usage = await store.readBudget(scope);
        assert.ok(
          Math.abs(usage.reservedUsd) < 1e-9,
          `${scope} still reserves ${usage.reservedUsd}`,
        );
        // Each scope is charged by two of the three pairs: 20 of the 30 settles.
        assert.ok(Math.abs(usage.spentUsd - 0.4) < 1e-9, `${scope} spent ${usage.spentUsd}`);
      }
    } finally {
      await other.close();
    }
  });

  it("releases a run's reservations when another worker claims the run", async () => {
    const { store } = suite();
    const scope = `tenant:${newRunId()}`;
    const { run } = await store.createRun({ id: newRunId(), agent: "bx", input: null });
    await claimOne(store, "bx", 1);
    const id = newRunId();
    const scopes = [{ scope, usd: 1 }];
    assert.equal(await store.reserveBudget({ ...hold(id, 0.8, 5, run.id), scopes }), null);
    await pause(20);
    await claimOne(store, "bx");
    assert.equal((await store.readBudget(scope)).reservedUsd, 0);
    assert.equal(await store.reserveBudget({ ...hold(newRunId(), 0.8, 5, run.id), scopes }), null);
  });

  it("keeps a reservation alive while its run's lease is renewed", async () => {
    const { store } = suite();
    const scope = `tenant:${newRunId()}`;
    const { run } = await store.createRun({ id: newRunId(), agent: "bk", input: null });
    const claimed = await claimOne(store, "bk");
    const scopes = [{ scope, usd: 1 }];
    const held = { ...hold(newRunId(), 0.8, 5, run.id), scopes, ttlMs: 2_000 };
    assert.equal(await store.reserveBudget(held), null);
    await pause(1_200);
    await store.renewLeases("w1", [{ runId: run.id, leaseToken: claimed.leaseToken }], 30_000);
    await pause(1_200);
    // Past its first expiry, but renewed: it still holds the budget.
    const refused = await store.reserveBudget({ ...hold(newRunId(), 0.8, 5), scopes });
    assert.equal(refused?.scope, scope);
  });
}
