import { createRequire } from "node:module";
import type Database from "better-sqlite3";
import { STORE_PRAGMAS } from "../../src/store/sqlite/database.js";
import { SqliteDriver } from "../../src/store/sqlite/driver.js";

export const CREATE_SQLITE =
  "CREATE TABLE IF NOT EXISTS raw_steps (id INTEGER PRIMARY KEY, run TEXT, step INTEGER, data TEXT)";
export const INSERT_SQLITE = "INSERT INTO raw_steps (run, step, data) VALUES (?, ?, ?)";

/** A small JSON payload, about what a journaled read step carries. */
export const RAW_PAYLOAD = JSON.stringify({
  kind: "tool",
  name: "bench.lookup",
  value: { i: 12, note: "raw step" },
});

export function openRawSqlite(path: string): Database.Database {
  const db = new SqliteDriver(path);
  // The durability of Flotilla's SQLite store: its own connection settings.
  for (const p of STORE_PRAGMAS) db.pragma(p);
  db.exec(CREATE_SQLITE);
  return db;
}

/** Where the better-sqlite3 build SqliteDriver picked lives, for threads that load it themselves. */
export function sqliteDriverPath(): string {
  const require = createRequire(import.meta.url);
  for (const name of ["better-sqlite3-napi", "better-sqlite3"]) {
    try {
      const path = require.resolve(name);
      if (require(path) === SqliteDriver) return path;
    } catch {
      // not installed: the other one is the driver
    }
  }
  throw new Error("cannot locate the better-sqlite3 build that SqliteDriver uses");
}
