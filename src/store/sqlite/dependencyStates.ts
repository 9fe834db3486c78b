import type Database from "better-sqlite3";
import type { Json } from "../../core/json.js";
import { prepared, type Row } from "./sql.js";

const putState = prepared(
  "INSERT OR REPLACE INTO dependency_state (dependency, worker_id, state, updated_at) VALUES (?, ?, ?, ?)",
);
const othersSince = prepared(
  "SELECT * FROM dependency_state WHERE worker_id != ? AND updated_at >= ?",
);

export function publish(
  db: Database.Database,
  workerId: string,
  states: readonly { dependency: string; state: Json }[],
): void {
  const put = putState(db);
  const now = Date.now();
  db.transaction(() => {
    for (const s of states) put.run(s.dependency, workerId, JSON.stringify(s.state), now);
  }).immediate();
}

export function read(
  db: Database.Database,
  excludeWorkerId: string,
  maxAgeMs: number,
): { dependency: string; workerId: string; state: Json }[] {
  const rows = othersSince(db).all(excludeWorkerId, Date.now() - maxAgeMs) as Row[];
  return rows.map((r) => ({
    dependency: r.dependency as string,
    workerId: r.worker_id as string,
    state: JSON.parse(r.state as string) as Json,
  }));
}
