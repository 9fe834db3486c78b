import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { StoreUnavailableError } from "../../core/errors.js";
import { checkMigrated, loadMigrations } from "../migrations.js";
import { SqliteDriver } from "./driver.js";

/**
 * The store's connection settings: WAL with synchronous=FULL, so a commit is
 * on disk when it returns; a writer waits for another process's write lock
 * instead of failing at once.
 */
export const STORE_PRAGMAS = [
  "journal_mode = WAL",
  "synchronous = FULL",
  "busy_timeout = 10000",
  "foreign_keys = ON",
] as const;

/**
 * Opens the store's file with its settings and, when `create`, makes it or
 * brings its schema up to date; otherwise the file must hold a store with
 * every migration applied. Any failure is a StoreUnavailableError.
 */
export function openDatabase(path: string, create: boolean): Database.Database {
  let db: Database.Database | undefined;
  try {
    if (path !== ":memory:" && create) mkdirSync(dirname(path), { recursive: true });
    if (path !== ":memory:" && !create && !existsSync(path))
      throw new Error("there is no file there: nothing has run on it yet");
    db = new SqliteDriver(path, { fileMustExist: !create });
    for (const p of STORE_PRAGMAS) db.pragma(p);
    if (create) migrate(db);
    else checkMigrated("sqlite", applied(db));
    return db;
  } catch (err) {
    db?.close();
    throw new StoreUnavailableError(path, err);
  }
}

/** Migration versions applied, or undefined when the file holds no store. */
function applied(db: Database.Database): Set<number> | undefined {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flotilla_migrations'")
    .get();
  if (!table) return undefined;
  const rows = db.prepare("SELECT version FROM flotilla_migrations").all() as {
    version: number;
  }[];
  return new Set(rows.map((r) => r.version));
}

function migrate(db: Database.Database): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS flotilla_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  const done = applied(db) ?? new Set<number>();
  for (const m of loadMigrations("sqlite")) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare("INSERT INTO flotilla_migrations (version, applied_at) VALUES (?, ?)").run(
        m.version,
        Date.now(),
      );
    }).immediate();
  }
}
