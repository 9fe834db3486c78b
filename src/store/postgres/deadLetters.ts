import type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterUpdate,
  NewDeadLetter,
} from "../../deadletter/types.js";
import { deadLetterValues, rowToDeadLetter } from "../rows.js";
import { NOW_MS, type Queryable, type Row, type Statement } from "./sql.js";

export async function list(db: Queryable, filter: DeadLetterFilter): Promise<DeadLetter[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM dead_letters WHERE ($1::text IS NULL OR class = $1)
       AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR run_id = $3)
     ORDER BY created_at DESC, id DESC LIMIT $4`,
    [filter.class ?? null, filter.status ?? null, filter.runId ?? null, filter.limit ?? 100],
  );
  return rows.map((r) => rowToDeadLetter(r, "postgres"));
}

export async function get(db: Queryable, id: string): Promise<DeadLetter | undefined> {
  const [row] = (await db.query<Row>("SELECT * FROM dead_letters WHERE id = $1", [id])).rows;
  return row ? rowToDeadLetter(row, "postgres") : undefined;
}

export function insert(d: NewDeadLetter): Statement {
  return {
    text: `INSERT INTO dead_letters (id, run_id, root_id, agent, tenant, class, status, error, context, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, ${NOW_MS}, ${NOW_MS}) ON CONFLICT DO NOTHING`,
    values: deadLetterValues(d),
  };
}

export function update(u: DeadLetterUpdate): Statement {
  return {
    text: `UPDATE dead_letters SET status = $1, resolution = $2, updated_at = ${NOW_MS} WHERE id = $3`,
    values: [u.status, JSON.stringify(u.resolution), u.id],
  };
}
