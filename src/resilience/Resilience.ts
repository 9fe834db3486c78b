import { z } from "zod";
import type { Clock } from "../core/clock.js";
import type { Json } from "../core/json.js";
import type { Store } from "../store/types.js";
import { DEFAULT_BACKOFF } from "./backoff.js";
import type { BreakerSnapshot } from "./CircuitBreaker.js";
import { DEFAULT_BREAKER } from "./CircuitBreaker.js";
import { Dependency, type DependencyMetrics, type DependencyPolicy } from "./Dependency.js";
import { DEFAULT_RETRY_BUDGET } from "./RetryBudget.js";
import { parseOptions } from "../core/validate.js";

// Strict at every level: a misspelt key (`maxAttempt`) is refused by name, never silently dropped.
const policySchema = z
  .strictObject({
    maxAttempts: z.number().int().min(1).max(20),
    backoff: z.strictObject({ baseMs: z.number().min(0), maxMs: z.number().min(0) }).partial(),
    budget: z
      .strictObject({
        ratio: z.number().min(0).max(10),
        minRetriesPerWindow: z.number().min(0),
        windowMs: z.number().min(100),
      })
      .partial(),
    breaker: z
      .strictObject({
        failureRatio: z.number().gt(0).max(1),
        minimumCalls: z.number().int().min(1),
        windowMs: z.number().min(100),
        windowCalls: z.number().int().min(1),
        cooldownMs: z.number().min(0),
        halfOpenProbes: z.number().int().min(1),
      })
      .partial(),
    adaptiveThrottlingK: z.number().min(1).nullable(),
  })
  .partial();

export type DependencyPolicyInput = z.input<typeof policySchema>;

export interface ResilienceOptions {
  /** Defaults for every dependency. */
  defaults?: DependencyPolicyInput;
  /** Overrides by dependency name (e.g. "openai:gpt-4o-mini", "tool:payments.refund"). */
  dependencies?: Record<string, DependencyPolicyInput>;
}

interface SharedState {
  requests: number;
  retries: number;
  breaker: BreakerSnapshot;
}

/** `base` with the fields `over` actually sets. */
function overlay<T extends object>(
  base: T,
  over: { [K in keyof T]?: T[K] | undefined } | undefined,
): T {
  const set = Object.entries(over ?? {}).filter(([, v]) => v !== undefined);
  return { ...base, ...Object.fromEntries(set) };
}

function merge(base: DependencyPolicy, over: DependencyPolicyInput | undefined): DependencyPolicy {
  if (!over) return base;
  return {
    maxAttempts: over.maxAttempts ?? base.maxAttempts,
    backoff: overlay(base.backoff, over.backoff),
    budget: overlay(base.budget, over.budget),
    breaker: overlay(base.breaker, over.breaker),
    adaptiveThrottlingK:
      over.adaptiveThrottlingK === undefined ? base.adaptiveThrottlingK : over.adaptiveThrottlingK,
  };
}

/**
 * The dependencies a Flotilla instance calls, each with its retry owner,
 * budget and breaker. `sync()` shares budgets and breaker state with every
 * other worker on the same store.
 */
export class Resilience {
  private readonly deps = new Map<string, Dependency>();
  private readonly defaults: DependencyPolicy;

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly options: ResilienceOptions = {},
  ) {
    for (const [name, p] of [
      ["defaults", options.defaults],
      ...Object.entries(options.dependencies ?? {}),
    ] as const) {
      parseOptions(policySchema, p ?? {}, `resilience.${name}`);
    }
    this.defaults = merge(
      {
        maxAttempts: 3,
        backoff: DEFAULT_BACKOFF,
        budget: DEFAULT_RETRY_BUDGET,
        breaker: DEFAULT_BREAKER,
        adaptiveThrottlingK: null,
      },
      options.defaults,
    );
  }

  /** True once `dependency(name)` has been asked for: it has been called, or is about to be. */
  has(name: string): boolean {
    return this.deps.has(name);
  }

  dependency(name: string): Dependency {
    let d = this.deps.get(name);
    if (!d) {
      d = new Dependency(
        name,
        this.clock,
        this.random,
        merge(this.defaults, this.options.dependencies?.[name]),
      );
      this.deps.set(name, d);
    }
    return d;
  }

  metrics(): Record<string, DependencyMetrics & { breaker: string; amplification: number }> {
    const out: Record<string, DependencyMetrics & { breaker: string; amplification: number }> = {};
    for (const [name, d] of this.deps)
      out[name] = { ...d.metrics, breaker: d.breakerState, amplification: d.amplification };
    return out;
  }

  /** Publishes this worker's counts and breaker states, and adopts the other workers'. */
  async sync(store: Store, workerId: string): Promise<void> {
    const mine = [...this.deps.values()].map((d) => ({
      dependency: d.name,
      state: {
        ...d.budget.local(),
        breaker: d.breaker.toJSON(),
      } satisfies SharedState as unknown as Json,
    }));
    await store.publishDependencyStates(workerId, mine);
    const windowMs = this.defaults.budget.windowMs;
    const others = await store.readDependencyStates(workerId, windowMs);
    const peers = new Map<string, { requests: number; retries: number }>();
    for (const row of others) {
      const s = row.state as unknown as SharedState;
      const d = this.dependency(row.dependency);
      d.breaker.adopt(s.breaker);
      const p = peers.get(row.dependency) ?? { requests: 0, retries: 0 };
      peers.set(row.dependency, {
        requests: p.requests + s.requests,
        retries: p.retries + s.retries,
      });
    }
    for (const d of this.deps.values())
      d.budget.setPeers(peers.get(d.name) ?? { requests: 0, retries: 0 });
  }
}
