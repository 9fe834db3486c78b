import type Database from "better-sqlite3";
import { rowToEvent } from "../rows.js";
import type { Blob, JournalEvent, NewEvent } from "../types.js";
import { prepared, type Row } from "./sql.js";

const byRun = prepared("SELECT * FROM events WHERE run_id = ? ORDER BY id");
const blobByHash = prepared("SELECT data FROM blobs WHERE hash = ?");
const eventBytes = prepared(
  "SELECT coalesce(sum(length(data) + length(type) + coalesce(length(step), 0) + length(run_id) + 16), 0) AS n FROM events",
);
const blobBytes = prepared("SELECT coalesce(sum(length(hash) + length(data)), 0) AS n FROM blobs");
const insertEvent = prepared(
  "INSERT INTO events (run_id, type, step, data, at) VALUES (?, ?, ?, ?, ?)",
);
/**
 * One event, written only while the run's lease token holds (and, in the
 * second form, no cancel is requested). A write statement takes SQLite's
 * write lock before it reads, so the fence and the write are one atomic step.
 */
const FENCED_EVENT = `INSERT INTO events (run_id, type, step, data, at)
  SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND lease_token = ?`;
const insertFenced = prepared(`${FENCED_EVENT})`);
const insertFencedNotCancelled = prepared(`${FENCED_EVENT} AND NOT cancel_requested)`);
const insertBlob = prepared("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, ?)");

export function read(db: Database.Database, runId: string): JournalEvent[] {
  const rows = byRun(db).all(runId) as Row[];
  return rows.map((r) => rowToEvent(r, "sqlite"));
}

export function getBlobs(db: Database.Database, hashes: readonly Buffer[]): Map<string, Buffer> {
  const get = blobByHash(db);
  const out = new Map<string, Buffer>();
  for (const h of hashes) {
    const row = get.get(h) as { data: Buffer } | undefined;
    if (row) out.set(h.toString("hex"), row.data);
  }
  return out;
}

export function storedBytes(db: Database.Database): { events: number; blobs: number } {
  const ev = eventBytes(db).get() as { n: number };
  const bl = blobBytes(db).get() as { n: number };
  return { events: ev.n, blobs: bl.n };
}

/** Appends events in the given order, so their ids order them within the run. */
export function append(
  db: Database.Database,
  runId: string,
  events: readonly NewEvent[],
  now: number,
): void {
  const put = insertEvent(db);
  for (const e of events) put.run(runId, e.type, e.step ?? null, JSON.stringify(e.data), now);
}

/**
 * Appends one event in a statement of its own (a transaction of its own
 * too, outside one) if the run's lease `token` still holds and, when
 * `notCancelled`, no cancel is requested; returns whether it did.
 */
export function appendFenced(
  db: Database.Database,
  runId: string,
  event: NewEvent,
  fence: { token: string; notCancelled: boolean },
  now: number,
): boolean {
  const put = (fence.notCancelled ? insertFencedNotCancelled : insertFenced)(db);
  const data = JSON.stringify(event.data);
  return (
    put.run(runId, event.type, event.step ?? null, data, now, runId, fence.token).changes === 1
  );
}

/** Blobs are content-addressed: a hash already stored never needs rewriting. */
export function putBlobs(db: Database.Database, blobs: readonly Blob[]): void {
  const put = insertBlob(db);
  for (const b of blobs) put.run(b.hash, b.data);
}
