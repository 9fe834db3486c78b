import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";

const require = createRequire(import.meta.url);

/**
 * The better-sqlite3 build to use on this Node.js. Version 12 is compiled at
 * install against the running Node's headers, and from Node 24.19 those
 * headers make its `node::ObjectWrap` destructors abort the process when a
 * statement is garbage-collected (nodejs/node#65446). Version 13 is built on
 * Node-API (`Napi::ObjectWrap`) and ships prebuilt, but needs Node 22. So: 13
 * where it runs and installed (an optional dependency, `better-sqlite3-napi`),
 * else 12.
 */
export const SqliteDriver: typeof BetterSqlite3 = pick();

function pick(): typeof BetterSqlite3 {
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= 22) {
    try {
      return require("better-sqlite3-napi") as typeof BetterSqlite3;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
    }
  }
  return require("better-sqlite3") as typeof BetterSqlite3;
}
