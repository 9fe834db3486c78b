import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { isFlotillaError } from "../src/core/errors.js";
import { PostgresStore } from "../src/store/postgres/PostgresStore.js";
import {
  faultedFleet,
  openOn,
  pendingRuns,
  runUnderFaults,
  SEED,
  settleAll,
  Witness,
} from "./helpers/faultFleet.js";

const pgSkip = await postgresSkipReason();

describe("PostgreSQL faults", pgSkip ? { skip: pgSkip } : {}, () => {
  it("store errors on PostgreSQL: runs complete, nothing repeats, agents see nothing", async () => {
    const db = await freshDatabase();
    try {
      await runUnderFaults(
        { rate: 0.08, mode: "error" },
        "postgres store errors",
        await PostgresStore.open(db.url),
      );
    } finally {
      await db.drop();
    }
  });

  it("a payload PostgreSQL refuses fails its own commit, not the others of its batch", async () => {
    const db = await freshDatabase();
    const store = await PostgresStore.open(db.url, { listen: false });
    try {
      const ids = await pendingRuns(store, 6);
      // Straight to the store, past the runtime's own checks: what jsonb itself refuses.
      const outcomes = await Promise.allSettled(
        ids.map((id, i) =>
          store.commit({
            runId: id,
            fence: { unleasedIn: ["pending"] },
            events: [{ type: "note", data: { text: i === 3 ? "a\u0000b" : "fine" } }],
          }),
        ),
      );
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
      );
      const refused = outcomes[3] as PromiseRejectedResult;
      assert.ok(
        isFlotillaError(refused.reason, "FLOTILLA_PAYLOAD_REJECTED"),
        String(refused.reason),
      );
      for (const [i, id] of ids.entries())
        assert.equal(
          (await store.readJournal(id)).some((e) => e.type === "note"),
          i !== 3,
          `run ${id}'s note`,
        );
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it("backends terminated mid-run do not end the worker; every run completes", async () => {
    const db = await freshDatabase();
    const f = await openOn(db.url);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const witness = new Witness();
      const agent = faultedFleet(f, witness, []);
      const ids = [];
      for (let i = 0; i < 8; i++) ids.push((await f.start(agent, `t${i}`)).id);
      let terminated = 0;
      for (let i = 0; i < 10; i++) {
        const { rowCount } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        terminated += rowCount ?? 0;
        await new Promise((r) => setTimeout(r, 100));
      }
      const runs = await settleAll(f, ids, 60_000);
      assert.ok(terminated > 0, "backends were terminated");
      assert.deepEqual(
        runs.filter((r) => r.status !== "completed").map((r) => `${r.id} ${r.status}`),
        [],
        `seed ${SEED}, ${terminated} backends terminated`,
      );
      assert.deepEqual(witness.repeats(), []);
    } finally {
      await admin.end();
      await f.close();
      await db.drop();
    }
  });
});
