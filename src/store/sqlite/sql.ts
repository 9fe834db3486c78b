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
