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
const takeOfRun = prepared(
  "DELETE FROM budget_reservations WHERE run_id = ? RETURNING scopes, usd, tokens",
);
const extendOfRun = prepared(
  "UPDATE budget_reservations SET expires_at = ? + ttl_ms WHERE run_id = ?",
);
const hold = prepared(
  `INSERT INTO budget_reservations (id, run_id, scopes, usd, tokens, ttl_ms, expires_at)
   VALUES (?, ?, ?, ?, ?, ?, ?)`,
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
      release(db, takeExpired(db).all(now) as HeldRow[]);
      // A refusal still commits: the expired reservations released above stay released.
      const read = byScope(db);
      for (const s of r.scopes) {
        const denial = overdrawn(s, rowToBudget(read.get(s.scope) as Row | undefined), r.amount);
        if (denial) return denial;
      }
      const names = [...new Set(r.scopes.map((s) => s.scope))];
      hold(db).run(
        r.id,
        r.runId,
        JSON.stringify(names),
        r.amount.usd,
        r.amount.tokens,
        r.ttlMs,
        now + r.ttlMs,
      );
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

/**
 * Releases every reservation held by `runIds`: runs just claimed, whose
 * previous worker can no longer settle them.
 */
export function releaseRuns(db: Database.Database, runIds: readonly string[]): void {
  const take = takeOfRun(db);
  release(
    db,
    runIds.flatMap((id) => take.all(id) as HeldRow[]),
  );
}

/** Pushes out the expiry of reservations held by runs whose leases were just renewed. */
export function extendRuns(db: Database.Database, runIds: readonly string[], now: number): void {
  const extend = extendOfRun(db);
  for (const id of runIds) extend.run(now, id);
}

export function read(db: Database.Database, scope: string): BudgetUsage {
  return rowToBudget(byScope(db).get(scope) as Row | undefined);
}

const NONE: BudgetAmount = { usd: 0, tokens: 0 };

interface HeldRow {
  scopes: string;
  usd: number;
  tokens: number;
}

/** Takes released reservations' amounts off their scopes' reserved totals. */
function release(db: Database.Database, held: readonly HeldRow[]): void {
  const amounts = releasedByScope(
    held.map((h) => ({ ...h, scopes: JSON.parse(h.scopes) as string[] })),
  );
  for (const [scope, amount] of amounts) addToScope(db, scope, NONE, amount);
}

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
