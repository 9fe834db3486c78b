import type pg from "pg";
import { overdrawn, releasedByScope } from "../budget.js";
import { rowToBudget } from "../rows.js";
import type { BudgetAmount, BudgetDenial, BudgetReservation, BudgetUsage } from "../types.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";
import { inTransaction } from "./transaction.js";

interface HeldRow {
  scopes: string[];
  usd: number;
  tokens: string;
}

/** Expired reservations this transaction can take; ones another transaction holds it leaves to it. */
const TAKE_EXPIRED = `DELETE FROM budget_reservations WHERE id IN (
    SELECT id FROM budget_reservations WHERE expires_at < ${NOW_MS}
    ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)
  RETURNING scopes, usd, tokens`;

const NONE: BudgetAmount = { usd: 0, tokens: 0 };

export function reserve(pool: pg.Pool, r: BudgetReservation): Promise<BudgetDenial | null> {
  const names = [...new Set(r.scopes.map((s) => s.scope))];
  return inTransaction(pool, async (c) => {
    await release(c, (await c.query<HeldRow>(TAKE_EXPIRED)).rows, names);
    const usage = await lockScopes(c, names);
    // A refusal still commits: the expired reservations released above stay released.
    for (const s of r.scopes) {
      const denial = overdrawn(s, usage.get(s.scope)!, r.amount);
      if (denial) return denial;
    }
    await c.query(
      `INSERT INTO budget_reservations (id, run_id, scopes, usd, tokens, ttl_ms, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, ${NOW_MS} + $6)`,
      [r.id, r.runId, names, r.amount.usd, r.amount.tokens, r.ttlMs],
    );
    await c.query(
      `UPDATE budget_ledger SET reserved_usd = reserved_usd + $2, reserved_tokens = reserved_tokens + $3
       WHERE scope = ANY($1)`,
      [names, r.amount.usd, r.amount.tokens],
    );
    return null;
  });
}

export function settle(
  pool: pg.Pool,
  reservationId: string,
  scopes: readonly string[],
  spent: BudgetAmount,
): Promise<void> {
  return inTransaction(pool, async (c) => {
    const [held] = (
      await c.query<HeldRow>(
        "DELETE FROM budget_reservations WHERE id = $1 RETURNING scopes, usd, tokens",
        [reservationId],
      )
    ).rows;
    const released = held ? { usd: held.usd, tokens: Number(held.tokens) } : NONE;
    await lockScopes(c, scopes);
    for (const scope of new Set(scopes)) await addToScope(c, scope, spent, released);
  });
}

/**
 * Releases every reservation held by `runIds`: runs just claimed, whose
 * previous worker can no longer settle them.
 */
export async function releaseRuns(pool: pg.Pool, runIds: readonly string[]): Promise<void> {
  await inTransaction(pool, async (c) => {
    const { rows } = await c.query<HeldRow>(
      "DELETE FROM budget_reservations WHERE run_id = ANY($1) RETURNING scopes, usd, tokens",
      [runIds],
    );
    await release(c, rows);
  });
}

/** Pushes out the expiry of reservations held by runs whose leases were just renewed. */
export async function extendRuns(db: Queryable, runIds: readonly string[]): Promise<void> {
  await db.query(
    `UPDATE budget_reservations SET expires_at = ${NOW_MS} + ttl_ms WHERE run_id = ANY($1)`,
    [runIds],
  );
}

export async function read(db: Queryable, scope: string): Promise<BudgetUsage> {
  const [row] = (await db.query<Row>("SELECT * FROM budget_ledger WHERE scope = $1", [scope])).rows;
  return rowToBudget(row);
}

/** Takes released reservations' amounts off their scopes' reserved totals. */
async function release(
  c: pg.PoolClient,
  held: readonly HeldRow[],
  alsoLock: readonly string[] = [],
): Promise<void> {
  const amounts = releasedByScope(held.map((h) => ({ ...h, tokens: Number(h.tokens) })));
  if (amounts.size === 0) return;
  await lockScopes(c, [...alsoLock, ...amounts.keys()]);
  for (const [scope, amount] of amounts) await addToScope(c, scope, NONE, amount);
}

/**
 * Creates missing ledger rows, then locks them all in name order, so
 * transactions touching overlapping scopes cannot deadlock; returns their usage.
 */
async function lockScopes(
  c: pg.PoolClient,
  scopes: readonly string[],
): Promise<Map<string, BudgetUsage>> {
  const names = [...new Set(scopes)].sort();
  await c.query(
    "INSERT INTO budget_ledger (scope) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
    [names],
  );
  const { rows } = await c.query<Row>(
    "SELECT * FROM budget_ledger WHERE scope = ANY($1) ORDER BY scope FOR UPDATE",
    [names],
  );
  return new Map(rows.map((r) => [r.scope as string, rowToBudget(r)]));
}

async function addToScope(
  c: pg.PoolClient,
  scope: string,
  spent: BudgetAmount,
  released: BudgetAmount,
): Promise<void> {
  await c.query(
    `UPDATE budget_ledger SET spent_usd = spent_usd + $2, spent_tokens = spent_tokens + $3,
       reserved_usd = greatest(0, reserved_usd - $4), reserved_tokens = greatest(0, reserved_tokens - $5)
     WHERE scope = $1`,
    [scope, spent.usd, spent.tokens, released.usd, released.tokens],
  );
}
