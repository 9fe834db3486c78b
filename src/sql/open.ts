import type { SqlDatabase } from "./database.js";
import { DEFAULT_SQL_TIMEOUT_MS } from "./options.js";
import { PgDatabase } from "./postgres/PgDatabase.js";
import { SqliteDatabase } from "./sqlite/SqliteDatabase.js";
import { parseSqlUrl } from "./url.js";

export interface OpenSqlOptions {
  /** One statement's time limit; on SQLite, how long to wait for the write lock. Default 30 s. */
  timeoutMs?: number;
  /** PostgreSQL connections per pool. Default 4. */
  poolSize?: number;
}

/** Opens a guarded database by URL; a bad URL or an unreachable server is a typed error. */
export async function openSqlDatabase(
  url: string,
  options: OpenSqlOptions = {},
  field = "store",
): Promise<SqlDatabase> {
  const where = parseSqlUrl(url, field);
  const timeoutMs = options.timeoutMs ?? DEFAULT_SQL_TIMEOUT_MS;
  if (where.dialect === "sqlite") return SqliteDatabase.open(where.path, timeoutMs);
  return PgDatabase.open(where.url, where.shown, { timeoutMs, poolSize: options.poolSize ?? 4 });
}
