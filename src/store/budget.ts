import type { BudgetAmount, BudgetDenial, BudgetScope, BudgetUsage } from "./types.js";

/** Float sums of many small prices must not refuse a call that fits exactly. */
const EPSILON = 1e-9;

/** The denial for `scope` if `amount` on top of `usage` would pass one of its limits. */
export function overdrawn(
  scope: BudgetScope,
  usage: BudgetUsage,
  amount: BudgetAmount,
): BudgetDenial | null {
  if (
    scope.usd !== undefined &&
    usage.spentUsd + usage.reservedUsd + amount.usd > scope.usd + EPSILON
  )
    return { scope: scope.scope, resource: "usd", limit: scope.usd, ...usage };
  if (
    scope.tokens !== undefined &&
    usage.spentTokens + usage.reservedTokens + amount.tokens > scope.tokens
  )
    return { scope: scope.scope, resource: "tokens", limit: scope.tokens, ...usage };
  return null;
}

/** Expired reservations' amounts summed per scope they were charged to. */
export function releasedByScope(
  expired: readonly { scopes: readonly string[]; usd: number; tokens: number }[],
): Map<string, BudgetAmount> {
  const out = new Map<string, BudgetAmount>();
  for (const r of expired) {
    for (const scope of r.scopes) {
      const sum = out.get(scope) ?? { usd: 0, tokens: 0 };
      out.set(scope, { usd: sum.usd + Number(r.usd), tokens: sum.tokens + Number(r.tokens) });
    }
  }
  return out;
}
