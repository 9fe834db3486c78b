import { z } from "zod";
import { systemClock, type Clock } from "../core/clock.js";
import { InvalidArgumentError, messageOf } from "../core/errors.js";
import { parseOptions } from "../core/validate.js";
import { DependencyLane } from "./lane.js";
import type { LimiterBackend } from "./limiter/types.js";
import type { DependencySnapshot } from "./metrics.js";
import { FleetOptionsSchema, limitsFor, type FleetConfig, type FleetOptions } from "./options.js";
import type { Admission, AdmissionRequest, Permit } from "./types.js";

const requestSchema = z.object({
  dependency: z.string().min(1),
  tenant: z.string().min(1),
  priority: z.number().finite().optional(),
  estimate: z.object({
    inputTokens: z.number().finite().nonnegative(),
    outputTokens: z.number().finite().nonnegative(),
  }),
});

export interface FleetSnapshot {
  /** Where limiter state lives: "memory", "redis" or "postgres". */
  backend: string;
  /** True while a shared backend is unreachable and a local share is in force. */
  degraded: boolean;
  reporter: string;
  at: number;
  dependencies: DependencySnapshot[];
}

export interface FleetSchedulerHooks {
  backend: LimiterBackend;
  clock?: Clock;
  /** Uniform in [0, 1); jitters wake-ups. Default Math.random. */
  random?: () => number;
  /** Names this process in published metrics. */
  reporter?: string;
  warn?: (message: string, err: unknown) => void;
  /** Publish `snapshot()` through the backend this often, for `flotilla fleet`. 0 or unset: never. */
  publishEveryMs?: number;
  /** Told how many processes published recently (this one included). */
  onPeers?: (processes: number) => void;
}

/**
 * Admission control for a fleet: per dependency, a weighted fair queue of
 * tenants in front of GCRA rate buckets (in memory, Redis or PostgreSQL) and
 * an AIMD concurrency limit. Implements the runtime's `Admission`.
 */
export class FleetScheduler implements Admission {
  readonly reporter: string;
  private readonly config: FleetConfig;
  private readonly lanes = new Map<string, DependencyLane>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly clock: Clock;
  private readonly warn: (message: string, err: unknown) => void;
  private closed = false;
  private readonly stopPublishing = new AbortController();

  constructor(
    options: FleetOptions,
    private readonly hooks: FleetSchedulerHooks,
  ) {
    this.config = parseOptions(FleetOptionsSchema, options, "fleet options");
    this.clock = hooks.clock ?? systemClock;
    this.reporter = hooks.reporter ?? `pid:${process.pid}`;
    this.warn =
      hooks.warn ?? ((m, err) => process.emitWarning(`flotilla fleet: ${m}: ${messageOf(err)}`));
    const every = hooks.publishEveryMs ?? 0;
    if (every > 0) this.track(this.publishLoop(every));
  }

  get backend(): LimiterBackend {
    return this.hooks.backend;
  }

  async acquire(request: AdmissionRequest, signal: AbortSignal): Promise<Permit> {
    parseOptions(requestSchema, request, "admission request");
    signal.throwIfAborted();
    if (this.closed) throw new InvalidArgumentError("the fleet scheduler is closed");
    return this.lane(request.dependency).enqueue(request, signal);
  }

  snapshot(): FleetSnapshot {
    return {
      backend: this.hooks.backend.kind,
      degraded: this.hooks.backend.degraded,
      reporter: this.reporter,
      at: this.clock.now(),
      dependencies: [...this.lanes.values()].map((l) => l.snapshot()),
    };
  }

  /** Stops admitting, waits for background writes, closes the backend. Queued callers stay queued: abort them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPublishing.abort();
    for (const lane of this.lanes.values()) lane.close();
    await Promise.allSettled([...this.pending]);
    await this.hooks.backend.close();
  }

  private lane(dependency: string): DependencyLane {
    let lane = this.lanes.get(dependency);
    if (!lane) {
      lane = new DependencyLane(
        dependency,
        limitsFor(this.config, dependency),
        {
          backend: this.hooks.backend,
          clock: this.clock,
          random: this.hooks.random ?? Math.random,
          burstMs: this.config.burstMs,
          jitterMs: this.config.jitterMs,
          weightOf: (tenant) => this.config.tenantWeights[tenant] ?? 1,
          track: (work) => this.track(work),
          warn: this.warn,
        },
        this.config.decrease,
        this.config.increase,
      );
      this.lanes.set(dependency, lane);
    }
    return lane;
  }

  private async publishLoop(everyMs: number): Promise<void> {
    const signal = this.stopPublishing.signal;
    while (!signal.aborted) {
      try {
        const live = await this.hooks.backend.publish(this.reporter, this.snapshot(), everyMs * 3);
        if (live > 0) this.hooks.onPeers?.(live);
      } catch (err) {
        this.warn("could not publish fleet metrics", err);
      }
      await this.clock.sleep(everyMs, signal).catch(() => undefined);
    }
  }

  private track(work: Promise<unknown>): void {
    const p = work.catch((err: unknown) => this.warn("background limiter write failed", err));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}
