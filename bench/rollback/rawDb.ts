import { SqliteDriver } from "../../src/store/sqlite/driver.js";
import pg from "pg";

export type RawParam = null | number | string;

/**
 * A plain connection to the guarded database, outside any run: how a
 * person (or another application) edits rows. Same calls on both engines;
 * `param(n)` spells the n-th placeholder ($n or ?).
 */
export interface RawDb {
  readonly kind: "sqlite" | "postgres";
  readonly url: string;
  param: (n: number) => string;
  /** Runs a statement; resolves to the rows it changed. */
  run(sql: string, params?: readonly RawParam[]): Promise<number>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly RawParam[]): Promise<T[]>;
  close(): Promise<void>;
}

export function sqliteRaw(path: string): RawDb {
  const db = new SqliteDriver(path, { timeout: 30_000 });
  return {
    kind: "sqlite",
    url: path,
    param: () => "?",
    run: async (sql, params = []) => db.prepare(sql).run(...params).changes,
    all: async <T>(sql: string, params: readonly RawParam[] = []) =>
      db.prepare(sql).all(...params) as T[],
    close: async () => {
      db.close();
    },
  };
}

export async function postgresRaw(url: string): Promise<RawDb> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  return {
    kind: "postgres",
    url,
    param: (n) => `$${n}`,
    run: async (sql, params = []) => (await client.query(sql, [...params])).rowCount ?? 0,
    all: async <T>(sql: string, params: readonly RawParam[] = []) =>
      (await client.query(sql, [...params])).rows as T[],
    close: () => client.end().catch(() => undefined),
  };
}
