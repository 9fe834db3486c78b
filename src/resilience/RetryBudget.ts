import type { Clock } from "../core/clock.js";

export interface RetryBudgetOptions {
  /** Retries allowed as a share of recent requests. Default 0.1. */
  ratio: number;
  /** Retries always allowed per window, so a quiet dependency can still retry. Default 10. */
  minRetriesPerWindow: number;
  /** How far back "recent" reaches. Default 10 s. */
  windowMs: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetOptions = {
  ratio: 0.1,
  minRetriesPerWindow: 10,
  windowMs: 10_000,
};

const SLOTS = 10;

/**
 * Retries ≤ ratio × requests over a sliding window (plus a small floor), so
 * retries cannot multiply load on a dependency that is down. Counts can be
 * merged with other workers' counts (`setPeers`) to hold the budget fleet-wide.
 */
export class RetryBudget {
  private readonly requests = new Array<number>(SLOTS).fill(0);
  private readonly retries = new Array<number>(SLOTS).fill(0);
  private slotStart = 0;
  private slot = 0;
  private peers = { requests: 0, retries: 0 };

  constructor(
    private readonly clock: Clock,
    readonly options: RetryBudgetOptions = DEFAULT_RETRY_BUDGET,
  ) {}

  recordRequest(): void {
    this.rotate();
    this.requests[this.slot]! += 1;
  }

  /**
   * Takes one retry from the budget if there is one. Besides the window
   * allowance, retries in the current slot (a tenth of the window) may not
   * exceed the ratio of one slot's requests (this one or the one before,
   * whichever is busier; at least two, so a lone call can still use its
   * attempts): a budget saved up in calm times is not spent in one burst when
   * an outage begins.
   */
  tryRetry(): boolean {
    this.rotate();
    const { requests, retries } = this.totals();
    const allowed = Math.max(this.options.minRetriesPerWindow, this.options.ratio * requests);
    if (retries + 1 > allowed) return false;
    const previous = (this.slot + SLOTS - 1) % SLOTS;
    const recent = Math.max(this.requests[this.slot]!, this.requests[previous]!);
    const burst = Math.max(2, this.options.ratio * recent);
    if (this.retries[this.slot]! + 1 > burst) return false;
    this.retries[this.slot]! += 1;
    return true;
  }

  /** This worker's own counts over the window, to publish to peers. */
  local(): { requests: number; retries: number } {
    this.rotate();
    return { requests: sum(this.requests), retries: sum(this.retries) };
  }

  /** Other workers' counts for the same dependency and window. */
  setPeers(peers: { requests: number; retries: number }): void {
    this.peers = peers;
  }

  private totals(): { requests: number; retries: number } {
    const own = this.local();
    return {
      requests: own.requests + this.peers.requests,
      retries: own.retries + this.peers.retries,
    };
  }

  private rotate(): void {
    const slotMs = this.options.windowMs / SLOTS;
    const now = this.clock.now();
    if (this.slotStart === 0) this.slotStart = now;
    let steps = Math.floor((now - this.slotStart) / slotMs);
    if (steps <= 0) return;
    this.slotStart += steps * slotMs;
    for (steps = Math.min(steps, SLOTS); steps > 0; steps--) {
      this.slot = (this.slot + 1) % SLOTS;
      this.requests[this.slot] = 0;
      this.retries[this.slot] = 0;
    }
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
