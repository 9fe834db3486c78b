import type Database from "better-sqlite3";
import { overdrawn } from "../budget.js";
import { rowToBudget } from "../rows.js";
import type { BudgetAmount, BudgetDenial, BudgetScope, BudgetUsage } from "../types.js";
import { prepared, type Row } from "./sql.js";

const byScope = prepared("SELECT * FROM budget_ledger WHERE scope = ?");
const addReserved = prepared(
  `INSERT INTO budget_ledger (scope, reserved_usd, reserved_tokens) VALUES (?, ?, ?)
   ON CONFLICT (scope) DO UPDATE SET reserved_usd = reserved_usd + excluded.reserved_usd,
     reserved_tokens = reserved_tokens + excluded.reserved_tokens`,
);
const addSpent = prepared(
  `INSERT INTO budget_ledger (scope, spent_usd, spent_tokens) VALUES (@scope, @usd, @tokens)
   ON CONFLICT (scope) DO UPDATE SET spent_usd = spent_usd + @usd, spent_tokens = spent_tokens + @tokens,
     reserved_usd = max(0, reserved_usd - @rusd), reserved_tokens = max(0, reserved_tokens - @rtokens)`,
);

export function reserve(
  db: Database.Database,
  scopes: readonly BudgetScope[],
  amount: BudgetAmount,
): BudgetDenial | null {
  return db
    .transaction(() => {
      const read = byScope(db);
      for (const s of scopes) {
        const denial = overdrawn(s, rowToBudget(read.get(s.scope) as Row | undefined), amount);
        if (denial) return denial;
      }
      const add = addReserved(db);
      for (const s of scopes) add.run(s.scope, amount.usd, amount.tokens);
      return null;
    })
    .immediate();
}

export function settle(
  db: Database.Database,
  scopes: readonly string[],
  reserved: BudgetAmount,
  spent: BudgetAmount,
): void {
  const add = addSpent(db);
  db.transaction(() => {
    for (const scope of scopes)
      add.run({
        scope,
        usd: spent.usd,
        tokens: spent.tokens,
        rusd: reserved.usd,
        rtokens: reserved.tokens,
      });
  }).immediate();
}

export function read(db: Database.Database, scope: string): BudgetUsage {
  return rowToBudget(byScope(db).get(scope) as Row | undefined);
}
