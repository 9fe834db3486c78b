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
