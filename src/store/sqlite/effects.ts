import type Database from "better-sqlite3";
import { rowToEffect, toJsonText } from "../rows.js";
import type { EffectClaim, EffectRecord, EffectUpdate } from "../types.js";
import { maybeUnflushed, prepared, type Row } from "./sql.js";

const byKey = prepared("SELECT * FROM effects WHERE tool = ? AND key = ?");
// A holder whose effect definitely failed did nothing: the key is free for the next unit of work.
const claimIntent = prepared(
  `INSERT INTO effects (tool, key, run_id, step, state, args_hash, updated_at)
   VALUES (@tool, @key, @runId, @step, 'intent', @argsHash, @now)
   ON CONFLICT (tool, key) DO UPDATE SET run_id = excluded.run_id, step = excluded.step,
     state = 'intent', result = NULL, args_hash = excluded.args_hash, updated_at = excluded.updated_at
   WHERE effects.state = 'failed'`,
);
const upsertState = prepared(
  `INSERT INTO effects (tool, key, run_id, step, state, result, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (tool, key) DO UPDATE SET state = excluded.state, result = excluded.result, updated_at = excluded.updated_at
   WHERE effects.run_id = excluded.run_id AND effects.step = excluded.step`,
);

/**
 * Registers the tool's key for this (run, step) unless some unit of work
 * holds it already; returns the holder either way. Not flushed on its own
 * (see Store.claimEffectKey).
 */
export function claimKey(db: Database.Database, c: EffectClaim): EffectRecord {
  return maybeUnflushed(db, true, () =>
    db
      .transaction(() => {
        claimIntent(db).run({ ...c, now: Date.now() });
        return rowToEffect(byKey(db).get(c.tool, c.key) as Row, "sqlite");
      })
      .immediate(),
  );
}

export function get(db: Database.Database, tool: string, key: string): EffectRecord | undefined {
  const row = byKey(db).get(tool, key) as Row | undefined;
  return row ? rowToEffect(row, "sqlite") : undefined;
}

/** Records each effect's new state; a key held by another (run, step) is left as it is. */
export function upsert(db: Database.Database, updates: readonly EffectUpdate[], now: number): void {
  const put = upsertState(db);
  for (const e of updates)
    put.run(e.tool, e.key, e.runId, e.step, e.state, toJsonText(e.result), now);
}
