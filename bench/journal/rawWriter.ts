import { Worker } from "node:worker_threads";
import { CREATE_SQLITE, INSERT_SQLITE, RAW_PAYLOAD, sqliteDriverPath } from "./rawSqlite.js";
import { STORE_PRAGMAS } from "../../src/store/sqlite/database.js";

/** What a writer thread reports: the INSERTs it completed within its window. */
export type WriterReport = { inserted: number } | { error: string };

/**
 * One of K concurrent SQLite writers: its own connection, one autocommit
 * single-row INSERT at a time, no batching. It says "ready", then inserts
 * until the time it is sent (ms since epoch), counting those done by then.
 * Plain JavaScript, evaluated: registering tsx in each of 64 threads took
 * seconds on a loaded machine.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { driver, path, run, pragmas, create, insert, payload } = workerData;
const Database = require(driver);
const db = new Database(path);
for (const p of pragmas) db.pragma(p);
db.exec(create);
const statement = db.prepare(insert);
parentPort.once("message", (until) => {
  let inserted = 0;
  let report;
  try {
    for (let step = 0; Date.now() < until; step++) {
      statement.run(run, step, payload);
      if (Date.now() <= until) inserted++;
    }
    report = { inserted };
  } catch (err) {
    report = { error: err instanceof Error ? err.message : String(err) };
  } finally {
    db.close();
  }
  parentPort.postMessage(report);
});
parentPort.postMessage("ready");
`;

export function startWriter(path: string, run: string): Worker {
  const workerData = {
    driver: sqliteDriverPath(),
    path,
    run,
    pragmas: STORE_PRAGMAS,
    create: CREATE_SQLITE,
    insert: INSERT_SQLITE,
    payload: RAW_PAYLOAD,
  };
  return new Worker(WRITER_SOURCE, { eval: true, workerData });
}
