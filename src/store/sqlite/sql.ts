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

/**
 * The error of one write of a batch transaction, which fails alone in its
 * savepoint; unless SQLite rolled the whole transaction back, as it may on a
 * full disk, an I/O error or a lack of memory
 * (https://sqlite.org/lang_transaction.html). The batch's later writes would
 * then each commit on their own and its COMMIT fail with "no transaction is
 * active", reporting as failed writes that landed: the error is thrown
 * instead, and fails the whole batch, none of which is written.
 */
export function failedAlone(db: Database.Database, err: unknown): Error {
  if (!db.inTransaction) throw err;
  return err instanceof Error ? err : new Error(String(err));
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
