import pg from "pg";
import type { Json } from "../../src/core/json.js";
import { SqliteDriver } from "../../src/store/sqlite/driver.js";
import { applyNaive, think, type Kind } from "./workload.js";

/**
 * The baseline: what agents sharing state do without Flotilla. Each agent
 * reads the value, thinks, and writes back what it computed, in a plain
 * table of the same database Flotilla uses, each statement its own durable
 * transaction (as an ORM's get-then-save does).
 */
interface NaiveTable {
  read(key: string): Promise<Json | undefined>;
  write(key: string, value: Json): Promise<void>;
  /** Claims: the first open item, and marking one taken. */
  firstOpen(): Promise<string | undefined>;
  markTaken(item: string, agent: number): Promise<void>;
  putItems(ids: string[]): Promise<void>;
  close(): Promise<void>;
}

export async function naiveTable(store: string, agents: number): Promise<NaiveTable> {
  return store.startsWith("postgres")
    ? postgresTable(store, agents)
    : Promise.resolve(sqliteTable(store));
}

function sqliteTable(path: string): NaiveTable {
  const db = new SqliteDriver(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 10000");
  db.exec(`CREATE TABLE IF NOT EXISTS naive_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS naive_jobs (item TEXT PRIMARY KEY, status TEXT NOT NULL, taker INTEGER)`);
  const get = db.prepare("SELECT value FROM naive_state WHERE key = ?");
  const put = db.prepare(
    "INSERT INTO naive_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
  const open = db.prepare(
    "SELECT item FROM naive_jobs WHERE status = 'open' ORDER BY item LIMIT 1",
  );
  const take = db.prepare("UPDATE naive_jobs SET status = 'taken', taker = ? WHERE item = ?");
  const add = db.prepare("INSERT OR IGNORE INTO naive_jobs (item, status) VALUES (?, 'open')");
  return {
    read: (key) => {
      const row = get.get(key) as { value: string } | undefined;
      return Promise.resolve(row ? (JSON.parse(row.value) as Json) : undefined);
    },
    write: (key, value) => Promise.resolve(void put.run(key, JSON.stringify(value))),
    firstOpen: () => Promise.resolve((open.get() as { item: string } | undefined)?.item),
    markTaken: (item, agent) => Promise.resolve(void take.run(agent, item)),
    putItems: (ids) => Promise.resolve(db.transaction(() => ids.forEach((id) => add.run(id)))()),
    close: () => Promise.resolve(void db.close()),
  };
}

async function postgresTable(url: string, agents: number): Promise<NaiveTable> {
  const pool = new pg.Pool({ connectionString: url, max: agents });
  pool.on("error", () => undefined);
  await pool.query(`CREATE TABLE IF NOT EXISTS naive_state (key TEXT PRIMARY KEY, value JSONB NOT NULL);
    CREATE TABLE IF NOT EXISTS naive_jobs (item TEXT PRIMARY KEY, status TEXT NOT NULL, taker INTEGER)`);
  return {
    read: async (key) =>
      (await pool.query<{ value: Json }>("SELECT value FROM naive_state WHERE key = $1", [key]))
        .rows[0]?.value,
    write: async (key, value) => {
      await pool.query(
        `INSERT INTO naive_state (key, value) VALUES ($1, $2::jsonb)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [key, JSON.stringify(value)],
      );
    },
    firstOpen: async () =>
      (
        await pool.query<{ item: string }>(
          "SELECT item FROM naive_jobs WHERE status = 'open' ORDER BY item LIMIT 1",
        )
      ).rows[0]?.item,
    markTaken: async (item, agent) => {
      await pool.query("UPDATE naive_jobs SET status = 'taken', taker = $1 WHERE item = $2", [
        agent,
        item,
      ]);
    },
    putItems: async (ids) => {
      await pool.query(
        "INSERT INTO naive_jobs (item, status) SELECT unnest($1::text[]), 'open' ON CONFLICT DO NOTHING",
        [ids],
      );
    },
    close: () => pool.end(),
  };
}

/** `agents` concurrent loops of `updates` read-think-write updates on one key; returns the final value. */
export async function naiveUpdates(
  table: NaiveTable,
  kind: Kind,
  key: string,
  agents: number,
  updates: number,
  thinkMs: number,
): Promise<Json | undefined> {
  await Promise.all(
    Array.from({ length: agents }, async (_, agent) => {
      for (let i = 0; i < updates; i++) {
        const current = await table.read(key);
        await think(thinkMs);
        await table.write(key, applyNaive(kind, current, agent, i));
      }
    }),
  );
  return table.read(key);
}

/** `agents` loops taking the first open item until none is left; returns who took what. */
export async function naiveClaims(
  table: NaiveTable,
  ids: string[],
  agents: number,
  thinkMs: number,
): Promise<string[][]> {
  await table.putItems(ids);
  return Promise.all(
    Array.from({ length: agents }, async (_, agent) => {
      const taken: string[] = [];
      for (;;) {
        const item = await table.firstOpen();
        if (item === undefined) return taken;
        await think(thinkMs);
        await table.markTaken(item, agent);
        taken.push(item);
      }
    }),
  );
}
