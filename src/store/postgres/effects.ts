import { rowToEffect, toJsonText } from "../rows.js";
import type { EffectClaim, EffectRecord, EffectUpdate } from "../types.js";
import { DEFERRED_FLUSH, NOW_MS, type Queryable, type Row, type Statement } from "./sql.js";

/**
 * Registers the tool's key for this (run, step) unless some unit of work
 * holds it already; returns the holder either way. A holder whose effect
 * definitely failed did nothing, so it gives the key up. Committed without
 * waiting for its flush (see Store.claimEffectKey).
 */
export async function claimKey(db: Queryable, c: EffectClaim): Promise<EffectRecord> {
  const [row] = (
    await db.query<Row>(
      `WITH ins AS (
         INSERT INTO effects AS e (tool, key, run_id, step, state, args_hash, updated_at)
         VALUES ($1, $2, $3, $4, 'intent', $5, ${NOW_MS})
         ON CONFLICT (tool, key) DO UPDATE SET run_id = excluded.run_id, step = excluded.step,
           state = 'intent', result = NULL, args_hash = excluded.args_hash,
           updated_at = excluded.updated_at
         WHERE e.state = 'failed' RETURNING *)
       SELECT *${DEFERRED_FLUSH} FROM ins UNION ALL
       SELECT *${DEFERRED_FLUSH} FROM effects
       WHERE tool = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
      [c.tool, c.key, c.runId, c.step, c.argsHash],
    )
  ).rows;
  if (row) return rowToEffect(row, "postgres");
  // The key was inserted by a transaction that committed while this statement
  // waited on it: the statement's snapshot predates that row, a new one does not.
  return (await get(db, c.tool, c.key)) ?? claimKey(db, c);
}

export async function get(
  db: Queryable,
  tool: string,
  key: string,
): Promise<EffectRecord | undefined> {
  const [row] = (
    await db.query<Row>("SELECT * FROM effects WHERE tool = $1 AND key = $2", [tool, key])
  ).rows;
  return row ? rowToEffect(row, "postgres") : undefined;
}

/**
 * Records each effect's new state; a key held by another (run, step) is left
 * as it is. Rows are written in (tool, key) order so concurrent batches lock them in
 * the same order. One statement may not touch a row twice, so a batch that
 * names a key more than once is written in as many statements, in batch order.
 */
export function upsert(updates: readonly EffectUpdate[]): Statement[] {
  return distinctKeyRounds(updates).map(upsertDistinct);
}

/** The order effect rows are written (and so locked) in, by every batch. */
export function byToolAndKey(a: EffectUpdate, b: EffectUpdate): number {
  return a.tool === b.tool ? (a.key < b.key ? -1 : 1) : a.tool < b.tool ? -1 : 1;
}

function distinctKeyRounds(updates: readonly EffectUpdate[]): EffectUpdate[][] {
  const rounds: EffectUpdate[][] = [];
  const seen = new Map<string, number>();
  for (const u of updates) {
    const id = JSON.stringify([u.tool, u.key]);
    const round = seen.get(id) ?? 0;
    seen.set(id, round + 1);
    (rounds[round] ??= []).push(u);
  }
  return rounds;
}

/** The effects insert every upsert of effect states begins with (the table aliased `x`). */
export const INSERT_EFFECT =
  "INSERT INTO effects AS x (key, run_id, step, tool, state, result, updated_at)";

/** What an upsert of effect states does to a key already there: it updates only its own (run, step). */
export const EFFECT_CONFLICT = `ON CONFLICT (tool, key) DO UPDATE SET state = excluded.state,
       result = excluded.result, updated_at = excluded.updated_at
     WHERE x.run_id = excluded.run_id AND x.step = excluded.step`;

function upsertDistinct(updates: readonly EffectUpdate[]): Statement {
  const effects = [...updates].sort(byToolAndKey);
  return {
    text: `${INSERT_EFFECT}
     SELECT key, run_id, step, tool, state, result, ${NOW_MS}
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
       AS t(key, run_id, step, tool, state, result)
     ${EFFECT_CONFLICT}`,
    values: [
      effects.map((e) => e.key),
      effects.map((e) => e.runId),
      effects.map((e) => e.step),
      effects.map((e) => e.tool),
      effects.map((e) => e.state),
      effects.map((e) => toJsonText(e.result)),
    ],
  };
}
