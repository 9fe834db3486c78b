import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { isFlotillaError } from "../src/core/errors.js";
import { newRunId } from "../src/core/ids.js";
import type { Json } from "../src/core/json.js";
import { openStore } from "../src/store/open.js";
import type { RunStateWriter, StateKey, StateWrite } from "../src/store/stateTypes.js";
import type { Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

/** The conformance of the shared-state methods: the same behaviour on SQLite and PostgreSQL. */

const counter = (input: Json, verified = false): StateWrite => ({
  kind: "reduce",
  op: "counter",
  input,
  verified,
  reduce: (cur, n) => ((cur as number | undefined) ?? 0) + (n as number),
});
const append = (input: Json, verified = false): StateWrite => ({
  kind: "reduce",
  op: "append",
  input,
  verified,
  reduce: (cur, item) => [...((cur as Json[] | undefined) ?? []), item],
});
const set = (input: Json, ifVersion: number, verified = false): StateWrite => ({
  kind: "set",
  op: "set",
  input,
  ifVersion,
  verified,
});

let keys = 0;
const keyIn = (region: string): StateKey => ({ region, scope: "", key: `k${keys++}` });

/** A run leased to a worker, and a writer for one of its steps. */
async function leasedRun(store: Store, agent = "writer") {
  const { run } = await store.createRun({ id: newRunId(), agent, input: null });
  const [claimed] = await store.claimRuns({
    workerId: "w",
    agents: [agent],
    limit: 1,
    leaseMs: 60_000,
  });
  assert.ok(claimed && claimed.id === run.id);
  const by = (step: string, fingerprint = `fp-${step}`): RunStateWriter => ({
    runId: run.id,
    step,
    leaseToken: claimed.leaseToken,
    agent,
    fingerprint,
  });
  return { run: claimed, by };
}

function stateConformance(
  name: string,
  open: () => Promise<{ a: Store; b: Store; done: () => Promise<void> }>,
  skip?: string,
) {
  describe(`shared state conformance: ${name}`, { skip: skip ?? false }, () => {
    let a: Store;
    let b: Store;
    let done: () => Promise<void>;
    before(async () => {
      ({ a, b, done } = await open());
    });
    after(async () => {
      await done();
    });

    it("records a region's first declaration and returns it to later ones", async () => {
      const first = await a.declareStateRegion({
        name: "r.decl",
        isolation: "findings",
        reducer: "counter",
      });
      const again = await b.declareStateRegion({
        name: "r.decl",
        isolation: "findings",
        reducer: "append",
      });
      assert.deepEqual(first, { name: "r.decl", isolation: "findings", reducer: "counter" });
      assert.deepEqual(again, first);
    });

    it("loses no update when two handles merge into one key concurrently", async () => {
      const at = keyIn("r.count");
      const writes = Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b).writeState(at, counter(1), { actor: `w${i}` }),
      );
      const outcomes = await Promise.all(writes);
      const versions = outcomes.map((o) => (o.ok ? o.version : -1)).sort((x, y) => x - y);
      assert.deepEqual(
        versions,
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
      const value = await a.readState(at);
      assert.equal(value?.value, 60);
      assert.equal(value?.version, 60);
      assert.equal((await b.stateHistory(at)).length, 60);
    });

    it("applies a run's step once: the same step writing again gets its first result", async () => {
      const { by } = await leasedRun(a);
      const at = keyIn("r.once");
      const first = await a.writeState(at, append("x"), by("3"));
      const again = await b.writeState(at, append("x"), by("3"));
      assert.deepEqual(again, first);
      assert.deepEqual((await a.readState(at))?.value, ["x"]);
      const concurrent = await Promise.all([
        a.writeState(at, append("y"), by("4")),
        b.writeState(at, append("y"), by("4")),
      ]);
      assert.deepEqual(concurrent[0], concurrent[1]);
      assert.deepEqual((await a.readState(at))?.value, ["x", "y"]);
    });

    it("refuses a step that wrote something else, a stale lease, and a run asked to cancel", async () => {
      const { run, by } = await leasedRun(a);
      const at = keyIn("r.fence");
      await a.writeState(at, counter(1), by("0", "count:1"));
      await assert.rejects(a.writeState(at, counter(2), by("0", "count:2")), (e) =>
        isFlotillaError(e, "FLOTILLA_NONDETERMINISM"),
      );
      await assert.rejects(a.writeState(at, counter(1), { ...by("1"), leaseToken: "stale" }), (e) =>
        isFlotillaError(e, "FLOTILLA_LEASE_LOST"),
      );
      await a.requestCancel(run.id, "test");
      await assert.rejects(b.writeState(at, counter(1), by("2")), (e) =>
        isFlotillaError(e, "FLOTILLA_CANCELLED"),
      );
      assert.equal((await a.readState(at))?.value, 1);
    });

    it("fails a refused write alone when writes share one batch", async () => {
      const { by } = await leasedRun(a);
      const at = keyIn("r.batch");
      const buggy: StateWrite = {
        kind: "reduce",
        op: "buggy",
        input: 1,
        verified: false,
        reduce: () => {
          throw new Error("reducer bug");
        },
      };
      // Submitted in one turn of the event loop: one batch, one transaction.
      const results = await Promise.allSettled([
        a.writeState(at, counter(1), { actor: "x" }),
        a.writeState(at, buggy, { actor: "x" }),
        a.writeState(at, counter(1), { ...by("0"), leaseToken: "stale" }),
        a.writeState(at, counter(1), by("1")),
        a.writeState(at, counter(1), by("1")),
        a.writeState(at, set(5, 99), { actor: "x" }),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ["fulfilled", "rejected", "rejected", "fulfilled", "fulfilled", "fulfilled"],
      );
      assert.match(String((results[1] as PromiseRejectedResult).reason), /reducer bug/);
      assert.ok(
        isFlotillaError((results[2] as PromiseRejectedResult).reason, "FLOTILLA_LEASE_LOST"),
      );
      const [, , , step1, again, cas] = results.map(
        (r) => (r as PromiseFulfilledResult<unknown>).value,
      );
      assert.deepEqual(again, step1);
      assert.equal((cas as { ok: boolean }).ok, false);
      assert.equal((await b.readState(at))?.value, 2);
      assert.equal((await b.stateHistory(at)).length, 2);
    });

    it("compares and sets on the version, and says what is there on a conflict", async () => {
      const at = keyIn("r.doc");
      const created = await a.writeState(at, set({ title: "a" }, 0), { actor: "t" });
      assert.deepEqual(created.ok && created.version, 1);
      const late = await b.writeState(at, set({ title: "b" }, 0), { actor: "t" });
      assert.equal(late.ok, false);
      assert.deepEqual(!late.ok && late.current?.value, { title: "a" });
      assert.equal(!late.ok && late.current?.version, 1);
      const next = await b.writeState(at, set({ title: "b" }, 1), { actor: "t" });
      assert.equal(next.ok && next.version, 2);
      // Concurrent CAS on one version: exactly one wins.
      const race = await Promise.all([
        a.writeState(at, set("x", 2), { actor: "x" }),
        b.writeState(at, set("y", 2), { actor: "y" }),
      ]);
      assert.equal(race.filter((o) => o.ok).length, 1);
    });

    it("keeps provenance and folds verified writes apart from unverified ones", async () => {
      const { run, by } = await leasedRun(a, "researcher");
      const at = keyIn("r.verified");
      await a.writeState(at, append("checked", true), by("0"));
      await a.writeState(at, append("rumour", false), { actor: "scraper" });
      await a.writeState(at, append("confirmed", true), by("1"));
      const all = await b.readState(at);
      assert.deepEqual(all?.value, ["checked", "rumour", "confirmed"]);
      assert.equal(all?.verified, false);
      assert.equal(all?.writtenBy.runId, run.id);
      assert.equal(all?.writtenBy.step, "1");
      assert.equal(all?.writtenBy.agent, "researcher");
      const verified = await b.readState(at, { verified: true });
      assert.deepEqual(verified?.value, ["checked", "confirmed"]);
      assert.equal(verified?.verified, true);
      assert.equal(verified?.version, 3);
      const history = await b.stateHistory(at);
      assert.deepEqual(
        history.map((h) => [h.version, h.op, h.input, h.by.agent, h.by.verified]),
        [
          [1, "append", "checked", "researcher", true],
          [2, "append", "rumour", "scraper", false],
          [3, "append", "confirmed", "researcher", true],
        ],
      );
      assert.deepEqual(
        (await b.stateHistory(at, { afterVersion: 1, limit: 1 })).map((h) => h.version),
        [2],
      );
      const unverifiedOnly = keyIn("r.verified");
      await a.writeState(unverifiedOnly, counter(5), { actor: "x" });
      assert.equal(await a.readState(unverifiedOnly, { verified: true }), undefined);
      assert.equal(await a.readState(keyIn("r.none")), undefined);
    });

    it("wakes a run watching a key when a write passes the version it waits past", async () => {
      const { run, by } = await leasedRun(a, "watcher");
      const at = keyIn("r.watch");
      await a.writeState(at, counter(1), { actor: "t" });
      const seen = await a.watchState(at, { runId: run.id, step: "0" }, 0);
      assert.equal(seen?.version, 1);
      assert.equal(await a.watchState(at, { runId: run.id, step: "1" }, 1), undefined);
      await a.commit({
        runId: run.id,
        fence: { leaseToken: by("1").leaseToken },
        events: [],
        status: { status: "waiting", wakeAt: null },
        release: true,
      });
      assert.equal((await a.getRun(run.id))?.status, "waiting");
      await b.writeState(at, counter(1), { actor: "t" });
      assert.equal((await a.getRun(run.id))?.status, "pending");
    });

    it("hands each claim item to one run, in order, and settles it only by its holder", async () => {
      const region = `q.${keys++}`;
      const put = await a.putClaimItems(
        region,
        [
          { id: "i1", value: { n: 1 } },
          { id: "i2", value: { n: 2 } },
          { id: "i1", value: { n: 9 } },
        ],
        { actor: "seed" },
      );
      assert.equal(put.added, 2);
      assert.equal(
        (await b.putClaimItems(region, [{ id: "i2", value: 0 }], { actor: "seed" })).added,
        0,
      );
      const r1 = await leasedRun(a, "taker");
      const r2 = await leasedRun(a, "taker");
      const t1 = await a.takeClaimItem(region, 60_000, r1.by("0"));
      assert.deepEqual([t1?.id, t1?.value, t1?.attempt], ["i1", { n: 1 }, 1]);
      assert.deepEqual(await b.takeClaimItem(region, 60_000, r1.by("0")), t1);
      const t2 = await b.takeClaimItem(region, 60_000, r2.by("0"));
      assert.equal(t2?.id, "i2");
      assert.equal(await a.takeClaimItem(region, 60_000, r2.by("1")), null);
      const refused = await a.settleClaimItem(
        region,
        "i1",
        { kind: "done", result: 1 },
        r2.by("2"),
      );
      assert.deepEqual(refused, { ok: false, status: "leased", holder: r1.run.id });
      assert.deepEqual(
        await a.settleClaimItem(region, "i1", { kind: "done", result: "ok" }, r1.by("1")),
        { ok: true },
      );
      assert.deepEqual(await b.settleClaimItem(region, "i1", { kind: "release" }, r1.by("2")), {
        ok: false,
        status: "done",
        holder: r1.run.id,
      });
      assert.deepEqual(await a.settleClaimItem(region, "i2", { kind: "release" }, r2.by("2")), {
        ok: true,
      });
      const items = await b.listClaimItems(region);
      assert.deepEqual(
        items.map((i) => [i.id, i.status, i.holder, i.attempts, i.result]),
        [
          ["i1", "done", r1.run.id, 1, "ok"],
          ["i2", "open", null, 1, undefined],
        ],
      );
      const history = await a.stateHistory({ region, scope: "", key: "i1" });
      assert.deepEqual(
        history.map((h) => h.op),
        ["put", "take", "done"],
      );
    });

    it("makes an item available again when its lease expires or its holder ends", async () => {
      const region = `q.${keys++}`;
      await a.putClaimItems(
        region,
        [
          { id: "x", value: 1 },
          { id: "y", value: 2 },
        ],
        { actor: "seed" },
      );
      const r1 = await leasedRun(a, "slow");
      const r2 = await leasedRun(a, "slow");
      assert.equal((await a.takeClaimItem(region, 1, r1.by("0")))?.id, "x");
      await new Promise((r) => setTimeout(r, 15));
      const again = await b.takeClaimItem(region, 60_000, r2.by("0"));
      assert.deepEqual([again?.id, again?.attempt], ["x", 2]);
      // The first holder's lease is gone: its done is refused.
      const late = await a.settleClaimItem(region, "x", { kind: "done", result: null }, r1.by("1"));
      assert.equal(late.ok, false);
      assert.equal((await a.takeClaimItem(region, 60_000, r1.by("2")))?.id, "y");
      await a.commit({
        runId: r1.run.id,
        fence: { leaseToken: r1.run.leaseToken },
        events: [],
        status: { status: "failed", error: { name: "Error", message: "boom" } },
        release: true,
      });
      const r3 = await leasedRun(a, "slow");
      const y = await b.takeClaimItem(region, 60_000, r3.by("0"));
      assert.deepEqual([y?.id, y?.attempt], ["y", 2]);
    });

    it("hands 200 items to 20 concurrent takers exactly once", async () => {
      const region = `q.${keys++}`;
      const n = 200;
      await a.putClaimItems(
        region,
        Array.from({ length: n }, (_, i) => ({ id: `item-${i}`, value: i })),
        { actor: "seed" },
      );
      const takers = [];
      for (let i = 0; i < 20; i++) takers.push(await leasedRun(a, "taker"));
      const taken = new Map<string, number>();
      await Promise.all(
        takers.map(async (t, j) => {
          const store = j % 2 ? a : b;
          for (let step = 0; ; step++) {
            const item = await store.takeClaimItem(region, 60_000, t.by(String(step)));
            if (!item) return;
            taken.set(item.id, (taken.get(item.id) ?? 0) + 1);
          }
        }),
      );
      assert.equal(taken.size, n);
      assert.deepEqual([...new Set(taken.values())], [1]);
    });

    it("agrees with a sequential model for any interleaving of writes (property)", async () => {
      const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
      process.stderr.write(`# state.store property seed (${name}): ${seed}\n`);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ n: fc.integer({ min: -5, max: 5 }), verified: fc.boolean() }), {
            minLength: 1,
            maxLength: 12,
          }),
          async (ops) => {
            const at = keyIn("r.prop");
            await Promise.all(
              ops.map((op, i) =>
                (i % 2 ? a : b).writeState(at, counter(op.n, op.verified), { actor: "p" }),
              ),
            );
            const sum = ops.reduce((s, op) => s + op.n, 0);
            const verifiedOps = ops.filter((op) => op.verified);
            const value = await a.readState(at);
            assert.equal(value?.value, sum);
            assert.equal(value?.version, ops.length);
            assert.equal(value?.verified, verifiedOps.length === ops.length);
            const v = await b.readState(at, { verified: true });
            if (verifiedOps.length === 0) assert.equal(v, undefined);
            else
              assert.equal(
                v?.value,
                verifiedOps.reduce((s, op) => s + op.n, 0),
              );
          },
        ),
        { seed, numRuns: 25 },
      );
    });
  });
}

stateConformance("sqlite", async () => {
  const path = tempStore();
  const a = await openStore(path);
  const b = await openStore(path);
  return {
    a,
    b,
    done: async () => {
      await a.close();
      await b.close();
    },
  };
});

const skip = await postgresSkipReason();
stateConformance(
  "postgres",
  async () => {
    const db = await freshDatabase();
    const a = await openStore(db.url);
    const b = await openStore(db.url);
    return {
      a,
      b,
      done: async () => {
        await a.close();
        await b.close();
        await db.drop();
      },
    };
  },
  skip,
);
