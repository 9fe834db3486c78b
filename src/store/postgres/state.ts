import type pg from "pg";
import type { Json } from "../../core/json.js";
import { provenanceOf, type ValueRow } from "../stateApply.js";
import type { StateHistoryEntry, StateKey, StateRegionRecord, StateValue } from "../stateTypes.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";
import { inTransaction } from "./transaction.js";

export async function declareRegion(
  db: Queryable,
  r: StateRegionRecord,
): Promise<StateRegionRecord> {
  const { rows } = await db.query<Row>(
    `WITH ins AS (
       INSERT INTO state_regions (name, isolation, reducer, declared_at) VALUES ($1, $2, $3, ${NOW_MS})
       ON CONFLICT (name) DO NOTHING RETURNING name, isolation, reducer)
     SELECT * FROM ins UNION ALL SELECT name, isolation, reducer FROM state_regions WHERE name = $1`,
    [r.name, r.isolation, r.reducer],
  );
  const row = rows[0] as Row;
  return {
    name: row.name as string,
    isolation: row.isolation as StateRegionRecord["isolation"],
    reducer: (row.reducer as string | null) ?? null,
  };
}

/**
 * A row as a write sees it. jsonb's null and SQL's NULL both arrive as null:
 * a value exists when its version says so (then null is JSON null).
 */
export function valueRow(row: Row | undefined): ValueRow | undefined {
  if (!row) return undefined;
  const version = Number(row.version);
  const verifiedVersion = row.verified_version === null ? null : Number(row.verified_version);
  return {
    version,
    value: version > 0 ? ((row.value ?? null) as Json) : undefined,
    allVerified: Boolean(row.all_verified),
    verifiedValue: verifiedVersion === null ? undefined : ((row.verified_value ?? null) as Json),
    verifiedVersion,
  };
}

export function toValue(at: StateKey, row: Row | undefined): StateValue | undefined {
  if (!row || Number(row.version) === 0) return undefined;
  return {
    key: at.key,
    value: (row.value ?? null) as Json,
    version: Number(row.version),
    verified: Boolean(row.all_verified),
    writtenBy: provenanceOf(row),
  };
}

export async function read(
  db: Queryable,
  at: StateKey,
  options: { verified?: boolean } = {},
): Promise<StateValue | undefined> {
  const { rows } = await db.query<Row>(
    options.verified
      ? `SELECT v.verified_value AS value, v.verified_version AS version, h.run_id, h.step, h.agent,
           h.at, true AS verified, true AS all_verified
         FROM state_values v JOIN state_history h ON h.region = v.region AND h.scope = v.scope
           AND h.key = v.key AND h.version = v.verified_version
         WHERE v.region = $1 AND v.scope = $2 AND v.key = $3`
      : "SELECT * FROM state_values WHERE region = $1 AND scope = $2 AND key = $3",
    [at.region, at.scope, at.key],
  );
  return toValue(at, rows[0]);
}

export async function history(
  db: Queryable,
  at: StateKey,
  options: { afterVersion?: number; limit?: number } = {},
): Promise<StateHistoryEntry[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM state_history WHERE region = $1 AND scope = $2 AND key = $3 AND version > $4
     ORDER BY version LIMIT $5`,
    [at.region, at.scope, at.key, options.afterVersion ?? 0, options.limit ?? null],
  );
  return rows.map((r) => ({
    version: Number(r.version),
    op: r.op as string,
    input: (r.input ?? null) as Json | null,
    by: provenanceOf(r),
  }));
}

/**
 * The value if past `afterVersion`, else the watch, in one transaction that
 * holds the key's row in share mode: a writer holding the row commits first
 * (and is seen), or writes after this commits (and finds the watch).
 */
export function watch(
  pool: pg.Pool,
  at: StateKey,
  watcher: { runId: string; step: string },
  afterVersion: number,
): Promise<StateValue | undefined> {
  const where = [at.region, at.scope, at.key];
  return inTransaction(pool, async (c) => {
    await c.query(
      `INSERT INTO state_values (region, scope, key, version, at) VALUES ($1, $2, $3, 0, 0)
       ON CONFLICT DO NOTHING`,
      where,
    );
    const { rows } = await c.query<Row>(
      "SELECT * FROM state_values WHERE region = $1 AND scope = $2 AND key = $3 FOR SHARE",
      where,
    );
    const found = toValue(at, rows[0]);
    if (found && found.version > afterVersion) return found;
    await c.query(
      `INSERT INTO state_watches (region, scope, key, run_id, step, after_version)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (region, scope, key, run_id, step) DO UPDATE SET after_version = excluded.after_version`,
      [...where, watcher.runId, watcher.step, afterVersion],
    );
    return undefined;
  });
}
