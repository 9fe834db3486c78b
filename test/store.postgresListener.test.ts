import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { newRunId } from "../src/core/ids.js";
import { NotificationListener } from "../src/store/postgres/listener.js";
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

  it(
    "retry one connection at a time while the server refuses, and keep one once it is back",
    {
      timeout: 60_000,
    },
    async () => {
      // A proxy in front of PostgreSQL that can hang up on new connections, as a
      // restarting server or a failing-over proxy does.
      const target = new URL(db.url);
      let refusing = false;
      let attempts = 0;
      const sockets = new Set<Socket>();
      const proxy: Server = createServer((socket) => {
        attempts++;
        if (refusing) return socket.destroy();
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const s of [socket, upstream]) {
          sockets.add(s);
          s.on("error", () => undefined);
          s.on("close", () => sockets.delete(s));
        }
        socket.pipe(upstream).pipe(socket);
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const via = new URL(db.url);
      via.host = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
      let wakeUps = 0;
      const listener = await NotificationListener.start(via.toString(), {
        runnable: () => undefined,
        reconnected: () => wakeUps++,
        cancel: () => undefined,
        settled: () => undefined,
      });
      try {
        refusing = true;
        attempts = 0;
        for (const s of sockets) s.destroy();
        // Backoff from 250 ms doubles: a few attempts in 3 s. Retry loops that
        // multiply on each failure would make dozens.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        assert.ok(attempts >= 1 && attempts <= 4, `${attempts} connection attempts`);
        refusing = false;
        while (wakeUps === 0) await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal((await listenerPids()).length, 1);
      } finally {
        await listener.close();
        proxy.close();
        for (const s of sockets) s.destroy();
      }
    },
  );
});
