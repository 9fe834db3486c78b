import type pg from "pg";
import { overdrawn } from "../budget.js";
import { rowToBudget } from "../rows.js";
import type { BudgetAmount, BudgetDenial, BudgetScope, BudgetUsage } from "../types.js";
import type { Queryable, Row } from "./sql.js";
import { inTransaction } from "./transaction.js";

export function reserve(
  pool: pg.Pool,
  scopes: readonly BudgetScope[],
  amount: BudgetAmount,
): Promise<BudgetDenial | null> {
  const names = [...new Set(scopes.map((s) => s.scope))].sort();
  return inTransaction(pool, async (c) => {
    // Rows exist before they are locked, and are locked in name order so reservers cannot deadlock.
    await ensureScopes(c, names);
    const { rows } = await c.query<Row>(
      "SELECT * FROM budget_ledger WHERE scope = ANY($1) ORDER BY scope FOR UPDATE",
      [names],
    );
    const usage = new Map(rows.map((r) => [r.scope as string, rowToBudget(r)]));
    for (const s of scopes) {
      const denial = overdrawn(s, usage.get(s.scope) ?? rowToBudget(undefined), amount);
      if (denial) return denial;
    }
    await c.query(
      `UPDATE budget_ledger SET reserved_usd = reserved_usd + $2, reserved_tokens = reserved_tokens + $3
       WHERE scope = ANY($1)`,
      [names, amount.usd, amount.tokens],
    );
    return null;
  });
}

export async function settle(
  pool: pg.Pool,
  scopes: readonly string[],
  reserved: BudgetAmount,
  spent: BudgetAmount,
): Promise<void> {
  const names = [...new Set(scopes)].sort();
  await inTransaction(pool, async (c) => {
    await ensureScopes(c, names);
    await c.query(
      `UPDATE budget_ledger SET spent_usd = spent_usd + $2, spent_tokens = spent_tokens + $3,
         reserved_usd = greatest(0, reserved_usd - $4), reserved_tokens = greatest(0, reserved_tokens - $5)
       WHERE scope = ANY($1)`,
      [names, spent.usd, spent.tokens, reserved.usd, reserved.tokens],
    );
  });
}

export async function read(db: Queryable, scope: string): Promise<BudgetUsage> {
  const [row] = (await db.query<Row>("SELECT * FROM budget_ledger WHERE scope = $1", [scope])).rows;
  return rowToBudget(row);
}

async function ensureScopes(db: Queryable, names: readonly string[]): Promise<void> {
  await db.query(
    "INSERT INTO budget_ledger (scope) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
    [names],
  );
}
