import type { Json } from "../../core/json.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";

export async function publish(
  db: Queryable,
  workerId: string,
  states: readonly { dependency: string; state: Json }[],
): Promise<void> {
  if (states.length === 0) return;
  await db.query(
    `INSERT INTO dependency_state (dependency, worker_id, state, updated_at)
     SELECT d, $1, s, ${NOW_MS} FROM unnest($2::text[], $3::jsonb[]) AS t(d, s)
     ON CONFLICT (dependency, worker_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    [workerId, states.map((s) => s.dependency), states.map((s) => JSON.stringify(s.state))],
  );
}

export async function read(
  db: Queryable,
  excludeWorkerId: string,
  maxAgeMs: number,
): Promise<{ dependency: string; workerId: string; state: Json }[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM dependency_state WHERE worker_id != $1 AND updated_at >= ${NOW_MS} - $2`,
    [excludeWorkerId, maxAgeMs],
  );
  return rows.map((r) => ({
    dependency: r.dependency as string,
    workerId: r.worker_id as string,
    state: r.state as Json,
  }));
}
