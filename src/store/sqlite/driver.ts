import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";

const require = createRequire(import.meta.url);
const OPTIONAL = "better-sqlite3-napi";

/**
 * The better-sqlite3 build to use on this Node.js. Version 12 is compiled at
 * install against the running Node's headers, and from Node 24.19 those
 * headers make its `node::ObjectWrap` destructors abort the process when a
 * statement is garbage-collected (nodejs/node#65446). Version 13 is built on
 * Node-API 10 (`Napi::ObjectWrap`, prebuilt), which Node has from 22.14. So:
 * 13 where Node-API 10 exists (it is an optional dependency,
 * `better-sqlite3-napi`), else 12.
 */
export const SqliteDriver: typeof BetterSqlite3 = pick();

function pick(): typeof BetterSqlite3 {
  if (Number(process.versions.napi) >= 10) {
    try {
      return require(OPTIONAL) as typeof BetterSqlite3;
    } catch (err) {
      const missing =
        (err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" &&
        String((err as Error).message).includes(`'${OPTIONAL}'`);
      if (!missing) throw err;
      if (affectedByObjectWrapAbort()) {
        throw new Error(
          `flotilla: Node ${process.version} needs the optional dependency ${OPTIONAL} ` +
            "(better-sqlite3 13): better-sqlite3 12 aborts the process on this Node. " +
            "Reinstall without --omit=optional.",
        );
      }
    }
  }
  return require("better-sqlite3") as typeof BetterSqlite3;
}

function affectedByObjectWrapAbort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 24 || (major === 24 && minor >= 19);
}
