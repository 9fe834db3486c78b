/* What the store keeps for budgets: scopes, usage and the reservations held while LLM attempts are in flight. */

/** One scope a budget reservation is charged to, with its limits (none: only accounted). */
export interface BudgetScope {
  scope: string;
  usd?: number;
  tokens?: number;
}

export interface BudgetUsage {
  spentUsd: number;
  reservedUsd: number;
  spentTokens: number;
  reservedTokens: number;
}

/** Why a reservation was refused: the first scope it would have overdrawn. */
export interface BudgetDenial extends BudgetUsage {
  scope: string;
  resource: "usd" | "tokens";
  limit: number;
}

export interface BudgetAmount {
  usd: number;
  tokens: number;
}

/** Worst-case cost held against budgets while one LLM attempt is in flight. */
export interface BudgetReservation {
  /** Unique per reservation; settling names it. */
  id: string;
  /** The run whose LLM attempt holds it: claiming the run again releases it. */
  runId: string;
  scopes: readonly BudgetScope[];
  amount: BudgetAmount;
  /**
   * Unsettled for this long since it was made or its run's lease was last
   * renewed, the reservation is released by the next one made on the store.
   */
  ttlMs: number;
}
