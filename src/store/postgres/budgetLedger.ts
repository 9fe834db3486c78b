import type pg from "pg";
import { overdrawn, releasedByScope } from "../budget.js";
import { rowToBudget } from "../rows.js";
import type { BudgetAmount, BudgetDenial, BudgetReservation, BudgetUsage } from "../types.js";
import { NOW_MS, type Queryable, type Row } from "./sql.js";
import { inTransaction } from "./transaction.js";

/** Expired reservations this transaction can take; ones another transaction holds it leaves to it. */
const TAKE_EXPIRED = `DELETE FROM budget_reservations WHERE id IN (
    SELECT id FROM budget_reservations WHERE expires_at < ${NOW_MS}
    ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)
  RETURNING scopes, usd, tokens`;

export function reserve(pool: pg.Pool, r: BudgetReservation): Promise<BudgetDenial | null> {
  const names = r.scopes.map((s) => s.scope);
  return inTransaction(pool, async (c) => {
    const expired = releasedByScope(
      (await c.query<{ scopes: string[]; usd: number; tokens: string }>(TAKE_EXPIRED)).rows.map(
        (e) => ({ ...e, tokens: Number(e.tokens) }),
      ),
    );
    const usage = await lockScopes(c, [...names, ...expired.keys()]);
    for (const [scope, amount] of expired) {
      await addToScope(c, scope, { usd: 0, tokens: 0 }, amount);
      const u = usage.get(scope)!;
      usage.set(scope, {
        ...u,
        reservedUsd: Math.max(0, u.reservedUsd - amount.usd),
        reservedTokens: Math.max(0, u.reservedTokens - amount.tokens),
      });
    }
    // A refusal still commits: the expired reservations released above stay released.
    for (const s of r.scopes) {
      const denial = overdrawn(s, usage.get(s.scope)!, r.amount);
      if (denial) return denial;
    }
    await c.query(
      `INSERT INTO budget_reservations (id, scopes, usd, tokens, expires_at)
       VALUES ($1, $2, $3, $4, ${NOW_MS} + $5)`,
      [r.id, [...new Set(names)], r.amount.usd, r.amount.tokens, r.ttlMs],
    );
    await c.query(
      `UPDATE budget_ledger SET reserved_usd = reserved_usd + $2, reserved_tokens = reserved_tokens + $3
       WHERE scope = ANY($1)`,
      [[...new Set(names)], r.amount.usd, r.amount.tokens],
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
      await c.query<{ usd: number; tokens: string }>(
        "DELETE FROM budget_reservations WHERE id = $1 RETURNING usd, tokens",
        [reservationId],
      )
    ).rows;
    const released = held ? { usd: held.usd, tokens: Number(held.tokens) } : { usd: 0, tokens: 0 };
    await lockScopes(c, scopes);
    for (const scope of new Set(scopes)) await addToScope(c, scope, spent, released);
  });
}

export async function read(db: Queryable, scope: string): Promise<BudgetUsage> {
  const [row] = (await db.query<Row>("SELECT * FROM budget_ledger WHERE scope = $1", [scope])).rows;
  return rowToBudget(row);
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
