import { rowToEvent } from "../rows.js";
import type { Blob, JournalEvent, NewEvent } from "../types.js";
import { NOW_MS, type Queryable, type Row, type Statement } from "./sql.js";

export async function read(db: Queryable, runId: string): Promise<JournalEvent[]> {
  const { rows } = await db.query<Row>("SELECT * FROM events WHERE run_id = $1 ORDER BY id", [
    runId,
  ]);
  return rows.map((r) => rowToEvent(r, "postgres"));
}

export async function getBlobs(
  db: Queryable,
  hashes: readonly Buffer[],
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (hashes.length === 0) return out;
  const { rows } = await db.query<Row>(
    "SELECT hash, data FROM blobs WHERE hash = ANY($1::bytea[])",
    [hashes],
  );
  for (const r of rows) out.set((r.hash as Buffer).toString("hex"), r.data as Buffer);
  return out;
}

export async function storedBytes(db: Queryable): Promise<{ events: number; blobs: number }> {
  const [ev] = (
    await db.query<Row>("SELECT coalesce(sum(pg_column_size(events.*)), 0) AS n FROM events")
  ).rows;
  const [bl] = (
    await db.query<Row>("SELECT coalesce(sum(pg_column_size(blobs.*)), 0) AS n FROM blobs")
  ).rows;
  return { events: Number(ev?.n ?? 0), blobs: Number(bl?.n ?? 0) };
}

/** The events insert every append begins with. */
export const INSERT_EVENT = "INSERT INTO events (run_id, type, step, data, at)";

/** Appends events in the given order, so their ids order them within each run. */
export function append(events: readonly (NewEvent & { runId: string })[]): Statement | undefined {
  if (events.length === 0) return undefined;
  return {
    text: `${INSERT_EVENT}
     SELECT run_id, type, step, data, ${NOW_MS}
     FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) WITH ORDINALITY AS t(run_id, type, step, data, ord)
     ORDER BY ord`,
    values: [
      events.map((e) => e.runId),
      events.map((e) => e.type),
      events.map((e) => e.step ?? null),
      events.map((e) => JSON.stringify(e.data)),
    ],
  };
}

/**
 * Stores each distinct blob once: blobs are content-addressed, so a hash
 * already stored never needs rewriting.
 */
export function putBlobs(blobs: readonly Blob[]): Statement | undefined {
  const byHash = new Map<string, Buffer>();
  for (const x of blobs) byHash.set(x.hash.toString("hex"), x.data);
  if (byHash.size === 0) return undefined;
  const keys = [...byHash.keys()].sort();
  return {
    text: `INSERT INTO blobs (hash, data) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT DO NOTHING`,
    values: [keys.map((k) => Buffer.from(k, "hex")), keys.map((k) => byHash.get(k))],
  };
}
