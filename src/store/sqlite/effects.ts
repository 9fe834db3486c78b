import type Database from "better-sqlite3";
import { rowToEffect, toJsonText } from "../rows.js";
import type { EffectRecord, EffectUpdate } from "../types.js";
import { prepared, type Row } from "./sql.js";

const byKey = prepared("SELECT * FROM effects WHERE key = ?");
const insertIntent = prepared(
  `INSERT INTO effects (key, run_id, step, tool, state, updated_at) VALUES (?, ?, ?, ?, 'intent', ?)
   ON CONFLICT DO NOTHING`,
);
const upsertState = prepared(
  `INSERT INTO effects (key, run_id, step, tool, state, result, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (key) DO UPDATE SET state = excluded.state, result = excluded.result, updated_at = excluded.updated_at
   WHERE effects.run_id = excluded.run_id AND effects.step = excluded.step`,
);

/**
 * Registers `e.key` for this (run, step) unless some unit of work holds it
 * already; returns the holder either way.
 */
export function claimKey(
  db: Database.Database,
  e: Omit<EffectUpdate, "state" | "result">,
): EffectRecord {
  return db
    .transaction(() => {
      insertIntent(db).run(e.key, e.runId, e.step, e.tool, Date.now());
      return rowToEffect(byKey(db).get(e.key) as Row, "sqlite");
    })
    .immediate();
}

export function get(db: Database.Database, key: string): EffectRecord | undefined {
  const row = byKey(db).get(key) as Row | undefined;
  return row ? rowToEffect(row, "sqlite") : undefined;
}

/** Records each effect's new state; a key held by another (run, step) is left as it is. */
export function upsert(db: Database.Database, updates: readonly EffectUpdate[], now: number): void {
  const put = upsertState(db);
  for (const e of updates)
    put.run(e.key, e.runId, e.step, e.tool, e.state, toJsonText(e.result), now);
}
