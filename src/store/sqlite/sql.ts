import type Database from "better-sqlite3";

export type Row = Record<string, unknown>;

/**
 * A statement compiled once per connection, on first use: claims and commits
 * run many times a second and must not pay for SQLite's parser every time.
 */
export function prepared(sql: string): (db: Database.Database) => Database.Statement {
  const byConnection = new WeakMap<Database.Database, Database.Statement>();
  return (db) => {
    let statement = byConnection.get(db);
    if (!statement) {
      statement = db.prepare(sql);
      byConnection.set(db, statement);
    }
    return statement;
  };
}

const flushLater = prepared("PRAGMA synchronous = NORMAL");
const flushNow = prepared("PRAGMA synchronous = FULL");

/**
 * Runs `write` (a transaction of its own) without an fsync when `deferred`:
 * in WAL mode with synchronous=NORMAL a commit is written but not flushed,
 * and the next FULL commit's flush covers it (the log is written in order).
 * For a write whose loss costs nothing but a repeat of safe work.
 */
export function maybeUnflushed<T>(db: Database.Database, deferred: boolean, write: () => T): T {
  if (!deferred) return write();
  flushLater(db).run();
  try {
    return write();
  } finally {
    flushNow(db).run();
  }
}
