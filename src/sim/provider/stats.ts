/** Counters for one API key, or for the whole server. */
export interface SimCounters {
  /** Every request that reached the server, whatever became of it. */
  requests: number;
  /** Requests answered with a complete, successful response. */
  completed: number;
  rateLimited: number;
  /** Injected 5xx answers (not outages). */
  serverErrors: number;
  outageRejections: number;
  resets: number;
  timeouts: number;
  /** Work done and billed, response never delivered. */
  lostResponses: number;
  /** Clients that went away while waiting or streaming. */
  clientAborts: number;
  /** Tokens of work actually done (completed and lost responses). */
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** Responses sent, by HTTP status. */
  byStatus: Record<string, number>;
}

export interface SimProviderStats extends SimCounters {
  keys: Record<string, SimCounters>;
}

export type CounterName = Exclude<keyof SimCounters, "byStatus">;

function empty(): SimCounters {
  return {
    requests: 0,
    completed: 0,
    rateLimited: 0,
    serverErrors: 0,
    outageRejections: 0,
    resets: 0,
    timeouts: 0,
    lostResponses: 0,
    clientAborts: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    byStatus: {},
  };
}

/** Server-side bookkeeping, so a benchmark can measure amplification from the provider's side. */
export class SimStats {
  private total = empty();
  private perKey = new Map<string, SimCounters>();

  add(key: string, counter: CounterName, n = 1): void {
    for (const c of [this.total, this.forKey(key)]) c[counter] += n;
  }

  status(key: string, status: number): void {
    for (const c of [this.total, this.forKey(key)]) {
      c.byStatus[status] = (c.byStatus[status] ?? 0) + 1;
    }
  }

  snapshot(): SimProviderStats {
    return structuredClone({ ...this.total, keys: Object.fromEntries(this.perKey) });
  }

  clear(): void {
    this.total = empty();
    this.perKey = new Map();
  }

  private forKey(key: string): SimCounters {
    let c = this.perKey.get(key);
    if (!c) {
      c = empty();
      this.perKey.set(key, c);
    }
    return c;
  }
}
