import { z } from "zod";
import { BudgetExhaustedError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { newToken } from "../core/ids.js";
import { costUsd, priceFor, type PriceTable } from "../providers/pricing.js";
import type { LlmRequest, LlmResponse } from "../providers/types.js";
import type { BudgetAmount, BudgetScope, Store } from "../store/types.js";

/** Limits of one budget; every field is optional and unset means unlimited. */
export const BudgetLimitsSchema = z.strictObject({
  /** USD, reserved at worst case before each LLM call: never overspent. */
  usd: z.number().positive().optional(),
  /** Input + output tokens, reserved like `usd`. */
  tokens: z.number().int().positive().optional(),
  /** Steps of one run (replayed steps included). */
  steps: z.number().int().positive().optional(),
  /** Wall time from the root run's start, for the whole tree. */
  wallMs: z.number().positive().optional(),
  /** An alarm (journaled `budget.alarm`, a process warning), not a stop: USD spent in the last minute. */
  usdPerMinute: z.number().positive().optional(),
});
export type BudgetLimits = z.infer<typeof BudgetLimitsSchema>;

export const BudgetsOptionsSchema = z.strictObject({
  /** Applies to every run that has none of its own. */
  run: BudgetLimitsSchema.optional(),
  tenants: z.record(z.string(), BudgetLimitsSchema).optional(),
  global: BudgetLimitsSchema.optional(),
  /** Prices used for reservations (USD per million tokens); default: the provider price table. */
  prices: z
    .record(
      z.string(),
      z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() }).loose(),
    )
    .optional(),
  /** Output tokens reserved for a call that sets no `maxTokens`. Default 4096. */
  defaultMaxTokens: z.number().int().positive().optional(),
  /**
   * A reservation unsettled this long since it was made or its run's lease
   * was last renewed (its worker died mid-call) is released; claiming the run
   * again releases it at once. Default 10 minutes.
   */
  reservationTtlMs: z.number().int().positive().optional(),
});

export const DEFAULT_RESERVATION_TTL_MS = 600_000;
export type BudgetsOptions = z.infer<typeof BudgetsOptionsSchema>;

/** The budget a run tree draws from, journaled with the root's creation and inherited by children. */
export interface RunBudget {
  root: string;
  startedAt: number;
  limits: BudgetLimits;
}

export function runBudgetOf(created: Record<string, Json> | undefined): RunBudget | undefined {
  const b = created?.budget;
  if (b === null || typeof b !== "object" || Array.isArray(b)) return undefined;
  return b as unknown as RunBudget;
}

/**
 * A conservative token estimate: real tokenizers average ~4 characters per
 * token in English but fewer in code and other scripts, and a reservation
 * below the real count could let a run overspend.
 */
export function worstCaseTokens(
  request: LlmRequest,
  defaultMaxTokens: number,
): BudgetAmount & {
  input: number;
  output: number;
} {
  const chars = request.messages.reduce((n, m) => n + (m.content?.length ?? 0), 0);
  const input = Math.ceil(chars / 2) + 8 * request.messages.length;
  const output = request.maxTokens ?? defaultMaxTokens;
  return { input, output, tokens: input + output, usd: 0 };
}

/** A reservation held for one LLM attempt; settle it exactly once. */
export interface Reservation {
  settle(response: LlmResponse | undefined): Promise<void>;
}

/** Reserves worst-case cost before each LLM attempt against the run, tenant and global budgets. */
export class BudgetReserver {
  constructor(
    private readonly store: Pick<Store, "reserveBudget" | "settleBudget">,
    private readonly runId: string,
    private readonly scopes: readonly BudgetScope[],
    private readonly prices: PriceTable,
    private readonly defaultMaxTokens: number,
    private readonly reservationTtlMs: number,
    private readonly onSpent: (usd: number) => void,
  ) {}

  get active(): boolean {
    return this.scopes.length > 0;
  }

  async reserve(request: LlmRequest): Promise<Reservation> {
    const worst = worstCaseTokens(request, this.defaultMaxTokens);
    const price = priceFor(request.model, this.prices);
    const amount: BudgetAmount = {
      tokens: worst.tokens,
      usd: price ? (worst.input * price.input + worst.output * price.output) / 1_000_000 : 0,
    };
    const id = newToken();
    const denial = await this.store.reserveBudget({
      id,
      runId: this.runId,
      scopes: this.scopes,
      amount,
      ttlMs: this.reservationTtlMs,
    });
    if (denial) {
      const usdDenied = denial.resource === "usd";
      throw new BudgetExhaustedError(
        denial.scope,
        denial.resource,
        denial.limit,
        usdDenied ? amount.usd : amount.tokens,
        usdDenied
          ? denial.spentUsd + denial.reservedUsd
          : denial.spentTokens + denial.reservedTokens,
      );
    }
    let settled = false;
    return {
      settle: async (response) => {
        if (settled) return;
        settled = true;
        const tokens = response ? response.usage.inputTokens + response.usage.outputTokens : 0;
        const usd = response
          ? (response.costUsd ?? costUsd(request.model, response.usage, this.prices) ?? 0)
          : 0;
        this.onSpent(usd);
        await this.store.settleBudget(
          id,
          this.scopes.map((s) => s.scope),
          { usd, tokens },
        );
      },
    };
  }
}

/** Raises the cost-velocity alarm once when the last minute's spend passes the limit. */
export class CostVelocity {
  private readonly spends: { at: number; usd: number }[] = [];
  private raised = false;

  constructor(
    private readonly limitPerMinute: number | undefined,
    private readonly now: () => number,
    private readonly alarm: (usdLastMinute: number) => void,
  ) {}

  record(usd: number): void {
    if (this.limitPerMinute === undefined || this.raised) return;
    const at = this.now();
    this.spends.push({ at, usd });
    while ((this.spends[0]?.at ?? at) < at - 60_000) this.spends.shift();
    const total = this.spends.reduce((n, s) => n + s.usd, 0);
    if (total > this.limitPerMinute) {
      this.raised = true;
      this.alarm(total);
    }
  }
}
