import type { Worker } from "node:worker_threads";
import pg from "pg";
import type { Place } from "./places.js";
import { INSERT_SQLITE, openRawSqlite, RAW_PAYLOAD } from "./rawSqlite.js";
import { startWriter, type WriterReport } from "./rawWriter.js";

/**
 * The baseline every ratio divides by: what the same database does with
 * single-row autocommit INSERTs at the same durability, with nothing of
 * Flotilla in between.
 */

const CREATE_PG =
  "CREATE TABLE IF NOT EXISTS raw_steps (id BIGSERIAL PRIMARY KEY, run TEXT, step INT, data JSONB)";
/** A named prepared statement, as Flotilla's own statements are: planned once per connection. */
const insertPg = (values: unknown[]) => ({
  name: "raw_insert",
  text: "INSERT INTO raw_steps (run, step, data) VALUES ($1, $2, $3)",
  values,
});
const WARMUP = 20;

export const BASELINES = {
  postgres:
    "single-row autocommit INSERTs (bigserial, jsonb; a prepared statement) in the measure's own fresh database, synchronous_commit as configured: insertMs on one connection; rawInsertsPerSec from K connections inserting in a loop for the runtime's wall time",
  sqlite:
    "single-row autocommit INSERTs with the store's pragmas (WAL, synchronous=FULL, busy_timeout): insertMs on one connection; rawInsertsPerSec from K worker threads, a connection each, no batching, for the runtime's wall time",
} as const;

/** Mean ms of one INSERT alone, over `count` of them on one connection. */
export async function insertMs(place: Place, count: number): Promise<number> {
  if (place.kind === "sqlite") {
    const db = openRawSqlite(place.url);
    try {
      const insert = db.prepare(INSERT_SQLITE);
      for (let i = 0; i < WARMUP; i++) insert.run("warmup", i, RAW_PAYLOAD);
      const t0 = performance.now();
      for (let i = 0; i < count; i++) insert.run("alone", i, RAW_PAYLOAD);
      return (performance.now() - t0) / count;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: place.url });
  await client.connect();
  try {
    await client.query(CREATE_PG);
    for (let i = 0; i < WARMUP; i++) await client.query(insertPg(["warmup", i, RAW_PAYLOAD]));
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await client.query(insertPg(["alone", i, RAW_PAYLOAD]));
    return (performance.now() - t0) / count;
  } finally {
    await client.end();
  }
}

/** INSERTs per second from `writers` concurrent writers over about `windowMs`. */
export function rawInsertsPerSec(place: Place, writers: number, windowMs: number): Promise<number> {
  return place.kind === "sqlite"
    ? sqliteWriters(place.url, writers, windowMs)
    : postgresWriters(place.url, writers, windowMs);
}

async function postgresWriters(url: string, writers: number, windowMs: number): Promise<number> {
  const clients = Array.from({ length: writers }, () => new pg.Client({ connectionString: url }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    await clients[0]?.query(CREATE_PG);
    const until = Date.now() + windowMs;
    const counts = await Promise.all(
      clients.map(async (c, w) => {
        let inserted = 0;
        for (let step = 0; Date.now() < until; step++) {
          await c.query(insertPg([`writer-${w}`, step, RAW_PAYLOAD]));
          if (Date.now() <= until) inserted++;
        }
        return inserted;
      }),
    );
    return perSecond(counts, windowMs);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

function nextMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => {
      worker.off("message", ok);
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const ok = (message: unknown) => {
      worker.off("error", fail);
      resolve(message);
    };
    worker.once("message", ok);
    worker.once("error", fail);
  });
}

/** K worker threads, a connection each: SQLite's own answer to concurrent writers, busy waits included. */
async function sqliteWriters(path: string, writers: number, windowMs: number): Promise<number> {
  openRawSqlite(path).close(); // the table exists before the writers race to it
  const threads: Worker[] = [];
  try {
    for (let w = 0; w < writers; w++) threads.push(startWriter(path, `writer-${w}`));
    await Promise.all(threads.map(nextMessage));
    const reports = threads.map((t) => nextMessage(t) as Promise<WriterReport>);
    const until = Date.now() + windowMs;
    for (const t of threads) t.postMessage(until);
    const counts = (await Promise.all(reports)).map((r) => {
      if ("error" in r) throw new Error(`a raw SQLite writer failed: ${r.error}`);
      return r.inserted;
    });
    return perSecond(counts, windowMs);
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

/** INSERTs completed within the window, per second; one still in flight at its end is not counted. */
function perSecond(counts: number[], windowMs: number): number {
  return counts.reduce((s, n) => s + n, 0) / (windowMs / 1000);
}
