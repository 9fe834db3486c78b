import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { newRunId } from "../src/core/ids.js";
import { openStore } from "../src/store/open.js";
import type { Store } from "../src/store/types.js";

const skip = await postgresSkipReason();

/** Resolves on the store's next runnable wake-up. */
function nextWakeUp(store: Store): Promise<void> {
  return new Promise((resolve) => {
    const off = store.onRunnable(() => {
      off();
      resolve();
    });
  });
}

describe("PostgreSQL wake-ups", { skip }, () => {
  let db: { url: string; drop: () => Promise<void> };
  let admin: pg.Client;
  before(async () => {
    db = await freshDatabase();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  after(async () => {
    await admin.end();
    await db.drop();
  });

  async function listenerPids(): Promise<number[]> {
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    return rows.map((r) => r.pid);
  }

  it(
    "keep arriving after the server drops the LISTEN connection",
    { timeout: 30_000 },
    async () => {
      const worker = await openStore(db.url);
      const writer = await openStore(db.url, { listen: false });
      try {
        const [first] = await listenerPids();
        assert.ok(first, "the store should hold a LISTEN connection");
        const reconnected = nextWakeUp(worker);
        await admin.query("SELECT pg_terminate_backend($1)", [first]);
        // A reconnect announces work once, since notifications sent while down are lost.
        await reconnected;
        const pids = await listenerPids();
        assert.equal(pids.length, 1);
        assert.notEqual(pids[0], first);
        const woken = nextWakeUp(worker);
        await writer.createRun({ id: newRunId(), agent: "a", input: null });
        await woken;
      } finally {
        await worker.close();
        await writer.close();
      }
      assert.deepEqual(await listenerPids(), [], "close() must end the LISTEN connection");
    },
  );
});
