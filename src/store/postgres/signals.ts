import type pg from "pg";
import type { Json } from "../../core/json.js";
import { checkSignalTarget } from "../signals.js";
import type { RunStatus, Signal } from "../types.js";
import { notifyRunnable } from "./notify.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";
import { inTransaction } from "./transaction.js";

export function send(pool: pg.Pool, runId: string, name: string, payload: Json): Promise<void> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<{ status: RunStatus }>(
      "SELECT status FROM runs WHERE id = $1 FOR UPDATE",
      [runId],
    );
    checkSignalTarget(runId, rows[0]?.status);
    await c.query(
      `UPDATE runs SET wake_requested = true, updated_at = ${NOW_MS},
         status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END WHERE id = $1`,
      [runId],
    );
    await c.query(
      `INSERT INTO signals (run_id, name, payload, at) VALUES ($1, $2, $3, ${NOW_MS})`,
      [runId, name, JSON.stringify(payload)],
    );
    await notifyRunnable(c);
  });
}

export async function read(db: Queryable, runId: string): Promise<Signal[]> {
  const { rows } = await db.query<Row>("SELECT * FROM signals WHERE run_id = $1 ORDER BY id", [
    runId,
  ]);
  return rows.map((r) => ({
    id: Number(r.id),
    runId: r.run_id as string,
    name: r.name as string,
    payload: r.payload as Json,
    at: Number(r.at),
  }));
}
