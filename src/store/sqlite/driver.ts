import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";

const require = createRequire(import.meta.url);

/** better-sqlite3 13, prebuilt on Node-API 10 (Node 22.14 and later); an optional dependency. */
const PREBUILT = "better-sqlite3-napi";
/** better-sqlite3 12, compiled at install; an optional dependency that npm installs on Node 20 to 22.13 only. */
const COMPILED = "@flotilla/sqlite-node20";

/**
 * The better-sqlite3 build for this Node.js. Where Node-API 10 exists it is
 * version 13, prebuilt, so an install compiles nothing; version 12 would
 * also abort the process there from Node 24.19 (its `node::ObjectWrap`
 * destructors, nodejs/node#65446). Older Node has no Node-API 10, so it
 * gets version 12, built from source at install. Each is an optional
 * dependency whose `engines` keeps npm from installing it where the other
 * is meant.
 */
export const SqliteDriver: typeof BetterSqlite3 = load(
  Number(process.versions.napi) >= 10 ? PREBUILT : COMPILED,
);

function load(name: string): typeof BetterSqlite3 {
  try {
    return require(name) as typeof BetterSqlite3;
  } catch (err) {
    const missing =
      (err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" &&
      String((err as Error).message).includes(`'${name}'`);
    if (!missing) throw err;
    throw new Error(
      `flotilla: the embedded SQLite store needs the optional dependency ${name} on Node ${process.version}; ` +
        "reinstall without --omit=optional (or use a postgres:// store).",
      { cause: err },
    );
  }
}
