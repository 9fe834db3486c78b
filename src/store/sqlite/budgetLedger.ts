import type Database from "better-sqlite3";
import { overdrawn, releasedByScope } from "../budget.js";
import { rowToBudget } from "../rows.js";
import type { BudgetAmount, BudgetDenial, BudgetReservation, BudgetUsage } from "../types.js";
import { prepared, type Row } from "./sql.js";

const byScope = prepared("SELECT * FROM budget_ledger WHERE scope = ?");
const takeExpired = prepared(
  "DELETE FROM budget_reservations WHERE expires_at < ? RETURNING scopes, usd, tokens",
);
const takeHeld = prepared("DELETE FROM budget_reservations WHERE id = ? RETURNING usd, tokens");
const hold = prepared(
  "INSERT INTO budget_reservations (id, scopes, usd, tokens, expires_at) VALUES (?, ?, ?, ?, ?)",
);
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

export function reserve(db: Database.Database, r: BudgetReservation): BudgetDenial | null {
  return db
    .transaction(() => {
      const now = Date.now();
      const expired = (
        takeExpired(db).all(now) as { scopes: string; usd: number; tokens: number }[]
      ).map((e) => ({ ...e, scopes: JSON.parse(e.scopes) as string[] }));
      for (const [scope, amount] of releasedByScope(expired)) addToScope(db, scope, NONE, amount);
      // A refusal still commits: the expired reservations released above stay released.
      const read = byScope(db);
      for (const s of r.scopes) {
        const denial = overdrawn(s, rowToBudget(read.get(s.scope) as Row | undefined), r.amount);
        if (denial) return denial;
      }
      const names = [...new Set(r.scopes.map((s) => s.scope))];
      hold(db).run(r.id, JSON.stringify(names), r.amount.usd, r.amount.tokens, now + r.ttlMs);
      const add = addReserved(db);
      for (const scope of names) add.run(scope, r.amount.usd, r.amount.tokens);
      return null;
    })
    .immediate();
}

export function settle(
  db: Database.Database,
  reservationId: string,
  scopes: readonly string[],
  spent: BudgetAmount,
): void {
  db.transaction(() => {
    const held = takeHeld(db).get(reservationId) as BudgetAmount | undefined;
    for (const scope of new Set(scopes)) addToScope(db, scope, spent, held ?? NONE);
  }).immediate();
}

export function read(db: Database.Database, scope: string): BudgetUsage {
  return rowToBudget(byScope(db).get(scope) as Row | undefined);
}

const NONE: BudgetAmount = { usd: 0, tokens: 0 };

function addToScope(
  db: Database.Database,
  scope: string,
  spent: BudgetAmount,
  released: BudgetAmount,
): void {
  addSpent(db).run({
    scope,
    usd: spent.usd,
    tokens: spent.tokens,
    rusd: released.usd,
    rtokens: released.tokens,
  });
}
