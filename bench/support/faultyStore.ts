import { createRng, type Rng } from "../../src/core/rng.js";
import type { Store } from "../../src/store/types.js";

/**
 * Store calls a fault layer may fail: every call a worker and its runs make
 * (claims, leases, heartbeats, commits, reads, effect keys, budgets,
 * dependency states, cancels of children, shared state). Calls only an
 * operator or a client makes (listing, dead letters, signals) are left out.
 */
export const FAULTABLE = [
  "createRun",
  "getRun",
  "claimRuns",
  "renewLeases",
  "releaseLeases",
  "nextWakeAt",
  "commit",
  "readJournal",
  "getBlobs",
  "claimEffectKey",
  "getEffect",
  "readSignals",
  "publishDependencyStates",
  "readDependencyStates",
  "reserveBudget",
  "settleBudget",
  "readBudget",
  "declareStateRegion",
  "writeState",
  "readState",
  "stateHistory",
  "watchState",
  "putClaimItems",
  "takeClaimItem",
  "settleClaimItem",
  "requestCancel",
  "announceWorker",
  "runVersions",
] as const satisfies readonly (keyof Store)[];

export type FaultableCall = (typeof FAULTABLE)[number];

export interface FaultOptions {
  seed: number;
  /** Share of calls that fail, in [0, 1]. */
  rate: number;
  /**
   * `error`: the call fails before it reaches the store (nothing happened).
   * `ambiguous`: the call runs, then its reply is lost (it happened; the caller is told it failed).
   */
  mode: "error" | "ambiguous";
  /** Calls that may fail. Default: all of FAULTABLE. */
  calls?: readonly FaultableCall[];
  /** Only calls whose arguments match may fail (e.g. the commit of one step). */
  match?: (args: unknown[]) => boolean;
  /** At most this many faults. Default: no limit. */
  limit?: number;
}

/** The error a dropped connection gives a driver. */
export class InjectedFault extends Error {
  readonly code = "ECONNRESET";
  constructor(call: string, ambiguous: boolean) {
    super(`injected fault: ${call} ${ambiguous ? "reply lost after it ran" : "failed"}`);
    this.name = "InjectedFault";
  }
}

/**
 * A Store whose calls fail at a seeded rate, the way a flaky network, a
 * failover or a lost reply would make them fail. `injected` counts the
 * faults by call; `enabled` can be switched off to let a run settle.
 */
export class FaultyStore {
  readonly injected = new Map<string, number>();
  enabled = true;
  readonly store: Store;
  private readonly rng: Rng;
  private readonly calls: ReadonlySet<string>;

  constructor(
    readonly inner: Store,
    private readonly options: FaultOptions,
  ) {
    if (!(options.rate >= 0 && options.rate <= 1))
      throw new RangeError(`rate must be in [0, 1], received ${options.rate}`);
    this.rng = createRng(options.seed);
    this.calls = new Set(options.calls ?? FAULTABLE);
    this.store = new Proxy(inner, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        const fn = value as (...args: unknown[]) => unknown;
        if (typeof prop !== "string" || !this.calls.has(prop)) return fn.bind(target);
        return (...args: unknown[]) => this.call(prop, args, () => fn.apply(target, args));
      },
    });
  }

  get total(): number {
    let n = 0;
    for (const v of this.injected.values()) n += v;
    return n;
  }

  private async call(name: string, args: unknown[], run: () => unknown): Promise<unknown> {
    const { match, limit } = this.options;
    if (!this.enabled || (limit !== undefined && this.total >= limit)) return run();
    if ((match && !match(args)) || this.rng.next() >= this.options.rate) return run();
    this.injected.set(name, (this.injected.get(name) ?? 0) + 1);
    if (this.options.mode === "error") throw new InjectedFault(name, false);
    await run();
    throw new InjectedFault(name, true);
  }
}
