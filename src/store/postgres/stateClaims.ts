import type pg from "pg";
import type { Json } from "../../core/json.js";
import { writerColumns } from "../stateApply.js";
import {
  isRunWriter,
  type ClaimedItem,
  type ClaimItemInput,
  type ClaimItemRecord,
  type ClaimSettle,
  type ClaimSettled,
  type ClaimStatus,
  type RunStateWriter,
  type StateWriter,
} from "../stateTypes.js";
import { TERMINAL_STATUSES } from "../types.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";
import { historyRow, json, once } from "./stateTransaction.js";

/** Statuses whose runs hold no item any more: their items are available again. */
const ended = TERMINAL_STATUSES.map((s) => `'${s}'`).join(", ");

export function putItems(
  pool: pg.Pool,
  region: string,
  items: readonly ClaimItemInput[],
  by: StateWriter,
): Promise<{ added: number }> {
  const who = writerColumns(by);
  return once(pool, by, {
    first: [
      {
        text: `WITH ins AS (
             INSERT INTO state_claims (region, item, value, status, version, updated_at)
             SELECT $1, t.item, t.value, 'open', 1, ${NOW_MS}
             FROM unnest($2::text[], $3::jsonb[]) WITH ORDINALITY AS t(item, value, ord) ORDER BY t.ord
             ON CONFLICT DO NOTHING RETURNING item, value, updated_at),
           h AS (
             INSERT INTO state_history (region, scope, key, version, op, input, run_id, step, agent, verified, at)
             SELECT $1, '', item, 1, 'put', value, $4, $5, $6, false, updated_at FROM ins)
           SELECT count(*) AS added FROM ins`,
        values: [
          region,
          items.map((i) => i.id),
          items.map((i) => JSON.stringify(i.value)),
          who.runId,
          who.step,
          who.agent,
        ],
      },
    ],
    finish: (rows) => ({
      result: { added: Number(rows[0]?.[0]?.added ?? 0) },
      writes: [],
      record: true,
    }),
  });
}

/**
 * Leases the oldest available item with `FOR UPDATE SKIP LOCKED`. Whether the
 * holder has ended is a subquery, not a join: when another taker leased the
 * row meanwhile, PostgreSQL re-checks the locked row's new version, and a
 * joined runs row would still be the stale, holderless one (an item taken twice).
 */
export function take(
  pool: pg.Pool,
  region: string,
  leaseMs: number,
  by: RunStateWriter,
): Promise<ClaimedItem | null> {
  return once<ClaimedItem | null>(pool, by, {
    first: [
      {
        text: `WITH pick AS (
             SELECT c.region, c.item FROM state_claims c
             WHERE c.region = $1 AND c.status IN ('open', 'leased')
               AND (c.status = 'open' OR c.lease_expires_at <= ${NOW_MS}
                    OR NOT EXISTS (SELECT 1 FROM runs r
                                   WHERE r.id = c.holder_run AND r.status NOT IN (${ended})))
             ORDER BY c.seq LIMIT 1 FOR UPDATE SKIP LOCKED),
           taken AS (
             UPDATE state_claims c SET status = 'leased', holder_run = $2,
               lease_expires_at = ${NOW_MS} + $3, attempts = c.attempts + 1,
               version = c.version + 1, updated_at = ${NOW_MS}
             FROM pick WHERE c.region = pick.region AND c.item = pick.item RETURNING c.*),
           h AS (
             INSERT INTO state_history (region, scope, key, version, op, input, run_id, step, agent, verified, at)
             SELECT region, '', item, version, 'take', NULL, $2, $4, $5, false, updated_at FROM taken)
           SELECT * FROM taken`,
        values: [region, by.runId, leaseMs, by.step, by.agent],
      },
    ],
    finish: (rows) => {
      const row = rows[0]?.[0];
      return {
        result: row
          ? {
              id: row.item as string,
              value: row.value as Json,
              attempt: Number(row.attempts),
              leaseExpiresAt: Number(row.lease_expires_at),
            }
          : null,
        writes: [],
        record: true,
      };
    },
  });
}

export function settle(
  pool: pg.Pool,
  region: string,
  item: string,
  how: ClaimSettle,
  by: StateWriter,
): Promise<ClaimSettled> {
  return once<ClaimSettled>(pool, by, {
    first: [
      {
        text: "SELECT * FROM state_claims WHERE region = $1 AND item = $2 FOR UPDATE",
        values: [region, item],
      },
    ],
    finish: (rows, now) => {
      const row = rows[0]?.[0];
      if (!row)
        return {
          result: { ok: false, status: "missing", holder: null },
          writes: [],
          record: false,
        };
      const holder = (row.holder_run as string | null) ?? null;
      if (isRunWriter(by) && (row.status !== "leased" || holder !== by.runId))
        return {
          result: { ok: false, status: row.status as ClaimStatus, holder },
          writes: [],
          record: false,
        };
      const done = how.kind === "done";
      const version = Number(row.version) + 1;
      const result = done ? how.result : undefined;
      return {
        result: { ok: true },
        record: true,
        writes: [
          {
            text: `UPDATE state_claims SET status = $3, holder_run = $4, lease_expires_at = NULL,
                 result = $5::jsonb, version = $6, updated_at = $7
               WHERE region = $1 AND item = $2`,
            values: [
              region,
              item,
              done ? "done" : "open",
              done ? holder : null,
              json(result),
              version,
              now,
            ],
          },
          historyRow({ region, scope: "", key: item }, version, how.kind, result, by, false, now),
        ],
      };
    },
  });
}

export async function listItems(db: Queryable, region: string): Promise<ClaimItemRecord[]> {
  const { rows } = await db.query<Row>(
    "SELECT * FROM state_claims WHERE region = $1 ORDER BY seq",
    [region],
  );
  return rows.map((r) => ({
    id: r.item as string,
    value: r.value as Json,
    status: r.status as ClaimStatus,
    holder: (r.holder_run as string | null) ?? null,
    attempts: Number(r.attempts),
    leaseExpiresAt: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
    result: (r.result ?? undefined) as Json | undefined,
  }));
}
