import { resolve } from "node:path";
import { InvalidArgumentError } from "../core/errors.js";
import { PostgresStore } from "./postgres/PostgresStore.js";
import { SqliteStore } from "./sqlite/SqliteStore.js";
import type { Store } from "./types.js";

/** Where the embedded store lives when nothing else is said. */
export const DEFAULT_STORE = "./.flotilla/flotilla.db";

export interface OpenStoreOptions {
  /** Listen for wake-ups (PostgreSQL). Default true; one-shot CLI reads turn it off. */
  listen?: boolean;
  /** PostgreSQL connections in the pool (LISTEN excluded). Default 10. */
  poolSize?: number;
  /**
   * Create the store (SQLite file and folders, schema on either database)
   * when it is missing or older than this version. Default true; operator
   * commands pass false, so reading or acting on runs never creates or
   * migrates a store: a missing or outdated one is refused, saying why.
   */
  create?: boolean;
}

/**
 * Opens a store from a URL: `postgres://…` / `postgresql://…` for PostgreSQL,
 * `sqlite:path`, `file:path` or a plain path for SQLite.
 */
export async function openStore(
  url: string = DEFAULT_STORE,
  options: OpenStoreOptions = {},
): Promise<Store> {
  if (typeof url !== "string" || url.trim() === "") {
    throw new InvalidArgumentError(
      `store must be a non-empty URL or path, received ${JSON.stringify(url)}`,
      {
        field: "store",
      },
    );
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    return PostgresStore.open(url, options);
  }
  const schemeMatch = /^([a-z][a-z0-9+.-]*):(?!\\)/i.exec(url);
  if (
    schemeMatch &&
    !/^(sqlite|file)$/i.test(schemeMatch[1] ?? "") &&
    (schemeMatch[1]?.length ?? 0) > 1
  ) {
    throw new InvalidArgumentError(
      `unsupported store URL '${url}': use postgres://… for PostgreSQL or a file path (or sqlite:path) for SQLite`,
      { field: "store", received: url },
    );
  }
  const path = url.replace(/^(sqlite|file):(\/\/)?/i, "");
  return SqliteStore.open(path === ":memory:" ? path : resolve(path), options.create !== false);
}
