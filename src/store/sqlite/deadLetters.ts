import type Database from "better-sqlite3";
import type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterUpdate,
  NewDeadLetter,
} from "../../deadletter/types.js";
import { deadLetterValues, rowToDeadLetter } from "../rows.js";
import { prepared, type Row } from "./sql.js";

const filtered = prepared(
  `SELECT * FROM dead_letters WHERE (@class IS NULL OR class = @class)
     AND (@status IS NULL OR status = @status) AND (@run IS NULL OR run_id = @run)
   ORDER BY created_at DESC, id DESC LIMIT @limit`,
);
const byId = prepared("SELECT * FROM dead_letters WHERE id = ?");
const insertOpen = prepared(
  `INSERT INTO dead_letters (id, run_id, root_id, agent, tenant, class, status, error, context, created_at, updated_at)
   VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
);
const setResolution = prepared(
  "UPDATE dead_letters SET status = ?, resolution = ?, updated_at = ? WHERE id = ?",
);

export function list(db: Database.Database, filter: DeadLetterFilter): DeadLetter[] {
  const rows = filtered(db).all({
    class: filter.class ?? null,
    status: filter.status ?? null,
    run: filter.runId ?? null,
    limit: filter.limit ?? 100,
  }) as Row[];
  return rows.map((r) => rowToDeadLetter(r, "sqlite"));
}

export function get(db: Database.Database, id: string): DeadLetter | undefined {
  const row = byId(db).get(id) as Row | undefined;
  return row ? rowToDeadLetter(row, "sqlite") : undefined;
}

export function insert(db: Database.Database, d: NewDeadLetter, now: number): void {
  insertOpen(db).run(...deadLetterValues(d), now, now);
}

export function update(db: Database.Database, u: DeadLetterUpdate, now: number): void {
  setResolution(db).run(u.status, JSON.stringify(u.resolution), now, u.id);
}
