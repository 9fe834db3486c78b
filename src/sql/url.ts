import { resolve } from "node:path";
import { InvalidArgumentError } from "../core/errors.js";
import type { SqlDialect } from "./classify.js";

export type SqlLocation =
  | { dialect: "postgres"; url: string; shown: string }
  | { dialect: "sqlite"; path: string; shown: string };

/** A URL as it may be printed: the password masked. */
export function redactSqlUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

/**
 * Where the guarded database is: `postgres://…` / `postgresql://…` for
 * PostgreSQL; `sqlite:path`, `file:path` or a plain path for a SQLite file.
 * `field` names the option in the error.
 */
export function parseSqlUrl(url: unknown, field = "store"): SqlLocation {
  if (typeof url !== "string" || url.trim() === "")
    throw new InvalidArgumentError(
      `${field} must be a database URL (postgres://… or a SQLite file path), received ${JSON.stringify(url)}`,
      { field, received: typeof url === "string" ? url : String(url) },
    );
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new InvalidArgumentError(`${field}: '${redactSqlUrl(url)}' is not a valid URL`, {
        field,
        received: redactSqlUrl(url),
      });
    }
    return { dialect: "postgres", url, shown: redactSqlUrl(url) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\\)/i.exec(url)?.[1];
  if (scheme && scheme.length > 1 && !/^(sqlite|file)$/i.test(scheme))
    throw new InvalidArgumentError(
      `${field}: unsupported database URL '${redactSqlUrl(url)}': use postgres://… for PostgreSQL or a file path (or sqlite:path) for SQLite`,
      { field, received: redactSqlUrl(url) },
    );
  const path = url.replace(/^(sqlite|file):(\/\/)?/i, "");
  if (path === ":memory:" || path === "")
    throw new InvalidArgumentError(
      `${field}: a SQLite database for the SQL tool must be a file (an in-memory database is private to one connection), received '${url}'`,
      { field, received: url },
    );
  const full = resolve(path);
  return { dialect: "sqlite", path: full, shown: full };
}

export function dialectOf(url: string): SqlDialect {
  return parseSqlUrl(url).dialect;
}
