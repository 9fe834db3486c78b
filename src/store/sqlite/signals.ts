import type Database from "better-sqlite3";
import type { Json } from "../../core/json.js";
import { checkSignalTarget } from "../signals.js";
import type { RunStatus, Signal } from "../types.js";
import type { Announce } from "./announce.js";
import * as runs from "./runs.js";
import { prepared, type Row } from "./sql.js";

const runStatus = prepared("SELECT status FROM runs WHERE id = ?");
const insertSignal = prepared(
  "INSERT INTO signals (run_id, name, payload, at) VALUES (?, ?, ?, ?)",
);
const byRun = prepared("SELECT * FROM signals WHERE run_id = ? ORDER BY id");

export function send(
  db: Database.Database,
  runId: string,
  name: string,
  payload: Json,
  announce: Announce,
): void {
  db.transaction(() => {
    const now = Date.now();
    const run = runStatus(db).get(runId) as { status: RunStatus } | undefined;
    checkSignalTarget(runId, run?.status);
    insertSignal(db).run(runId, name, JSON.stringify(payload), now);
    runs.wake(db, runId, now);
  }).immediate();
  announce.runnable();
}

export function read(db: Database.Database, runId: string): Signal[] {
  const rows = byRun(db).all(runId) as Row[];
  return rows.map((r) => ({
    id: Number(r.id),
    runId: r.run_id as string,
    name: r.name as string,
    payload: JSON.parse(r.payload as string) as Json,
    at: Number(r.at),
  }));
}
