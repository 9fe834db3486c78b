import type { Clock } from "../core/clock.js";
import { AdaptiveConcurrency } from "./aimd.js";
import { DependencyBuckets } from "./buckets.js";
import { FairQueue, type FairItem } from "./fairQueue.js";
import type { Adjustment, BucketName, Charge } from "./gcra.js";
import type { BucketLimits } from "./headers.js";
import type { LimiterBackend } from "./limiter/types.js";
import { DependencyMetrics, type AdmissionSample, type DependencySnapshot } from "./metrics.js";
import type { DependencyLimits } from "./options.js";
import type { AdmissionRequest, Permit } from "./types.js";

const ERROR_RETRY_MS = 1000;

export interface LaneContext {
  backend: LimiterBackend;
  clock: Clock;
  random: () => number;
  /** The `burstMs` option: caps how far a bucket may run ahead of its smooth rate. */
  burstMs: number | undefined;
  jitterMs: number;
  weightOf: (tenant: string) => number;
  /** Keeps a background write (a reconciliation) from being dropped unnoticed. */
  track: (work: Promise<unknown>) => void;
  warn: (message: string, err: unknown) => void;
}

interface Waiter extends FairItem {
  units: Record<BucketName, number>;
  enqueuedAt: number;
  settled: boolean;
  resolve(permit: Permit): void;
  reject(err: unknown): void;
}

/**
 * One dependency's admission: a fair queue of waiting calls in front of its
 * rate buckets (shared through the backend, sized from the provider's
 * headers) and its adaptive concurrency limit (local to this process). One drain loop at a time decides who goes
 * next, so a burst of arrivals costs one backend round trip per admission,
 * not one per arrival.
 */
export class DependencyLane {
  private readonly queue: FairQueue<Waiter>;
  private readonly aimd: AdaptiveConcurrency;
  private readonly metrics: DependencyMetrics;
  private readonly buckets: DependencyBuckets;
  private inFlight = 0;
  private draining = false;
  private again = false;
  private wakeAt: number | undefined;
  private nap: AbortController | undefined;
  private readonly stop = new AbortController();

  constructor(
    readonly dependency: string,
    limits: DependencyLimits,
    private readonly ctx: LaneContext,
    decrease: number,
    increase: number,
  ) {
    this.queue = new FairQueue<Waiter>(ctx.weightOf);
    this.aimd = new AdaptiveConcurrency({
      min: limits.minConcurrency,
      max: Math.max(limits.minConcurrency, limits.maxConcurrency),
      initial: limits.initialConcurrency ?? limits.maxConcurrency,
      decrease,
      increase,
    });
    this.metrics = new DependencyMetrics(dependency);
    this.buckets = new DependencyBuckets(
      {
        ...(limits.rpm !== undefined && { requests: limits.rpm }),
        ...(limits.tpm !== undefined && { tokens: limits.tpm }),
        ...(limits.inputTpm !== undefined && { inputTokens: limits.inputTpm }),
        ...(limits.outputTpm !== undefined && { outputTokens: limits.outputTpm }),
      },
      ctx.burstMs,
    );
  }

  enqueue(request: AdmissionRequest, signal: AbortSignal): Promise<Permit> {
    return new Promise<Permit>((resolve, reject) => {
      const { inputTokens, outputTokens } = request.estimate;
      const waiter: Waiter = {
        tenant: request.tenant,
        priority: request.priority ?? 0,
        // Tenants share the token budget, the scarce one for LLM calls.
        cost: Math.max(1, inputTokens + outputTokens),
        units: {
          requests: 1,
          tokens: inputTokens + outputTokens,
          inputTokens,
          outputTokens,
        },
        enqueuedAt: this.ctx.clock.now(),
        settled: false,
        resolve: (permit) => {
          signal.removeEventListener("abort", onAbort);
          resolve(permit);
        },
        reject,
      };
      const onAbort = (): void => {
        if (waiter.settled) return;
        waiter.settled = true;
        this.queue.remove(waiter);
        // The contract is to reject with the caller's own reason, whatever it is.
        reject(signal.reason as Error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** Limits in force: the configured ones, lowered by what the provider last reported. */
  limits(): BucketLimits {
    return this.buckets.limits();
  }

  snapshot(): DependencySnapshot {
    return this.metrics.snapshot(this.ctx.clock.now(), {
      queueDepth: this.queue.size,
      queueByTenant: this.queue.depths(),
      inFlight: this.inFlight,
      concurrencyLimit: this.aimd.limit,
      limits: this.limits(),
      burst: this.buckets.burst(),
    });
  }

  close(): void {
    this.stop.abort();
  }

  private pump(): void {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    this.ctx.track(
      this.drain().finally(() => {
        this.draining = false;
        if (this.again) {
          this.again = false;
          this.pump();
        }
      }),
    );
  }

  private async drain(): Promise<void> {
    while (!this.stop.signal.aborted && this.wakeAt === undefined) {
      const head = this.queue.peek();
      if (!head || this.inFlight >= this.aimd.limit) return;
      if (this.inFlight > 0 && this.buckets.probing()) return;
      const charges = this.buckets.charges(head.units);
      let waitMs: number;
      try {
        waitMs = await this.ctx.backend.reserve(this.dependency, charges);
      } catch (err) {
        // Only a backend without a fallback gets here; waiters wait, they are not failed.
        this.ctx.warn(`admission for ${this.dependency} could not reach its limiter`, err);
        return this.sleep(ERROR_RETRY_MS);
      }
      if (waitMs > 0) return this.sleep(waitMs);
      if (head.settled) {
        // Cancelled while its admission was decided: give the budget back.
        this.ctx.track(this.ctx.backend.settle(this.dependency, refund(charges)));
        continue;
      }
      this.queue.take(head);
      this.admit(head, charges);
    }
  }

  private sleep(waitMs: number): void {
    const ms = waitMs + this.ctx.random() * this.ctx.jitterMs;
    const nap = new AbortController();
    const onStop = (): void => nap.abort();
    this.stop.signal.addEventListener("abort", onStop, { once: true });
    this.nap = nap;
    this.wakeAt = this.ctx.clock.now() + ms;
    this.ctx.track(
      this.ctx.clock.sleep(ms, nap.signal).then(
        () => {
          this.stop.signal.removeEventListener("abort", onStop);
          this.wakeAt = undefined;
          this.pump();
        },
        () => this.stop.signal.removeEventListener("abort", onStop),
      ),
    );
  }

  /**
   * Budget came back (a refund) or a slot freed: a lane asleep until the old
   * wake-up time asks again now instead.
   */
  private rewake(): void {
    if (this.wakeAt !== undefined) {
      this.nap?.abort();
      this.wakeAt = undefined;
    }
    this.pump();
  }

  private admit(waiter: Waiter, charges: Charge[]): void {
    const now = this.ctx.clock.now();
    waiter.settled = true;
    this.inFlight++;
    const stamp = this.aimd.started();
    const sample: AdmissionSample = { at: now, tenant: waiter.tenant, units: { ...waiter.units } };
    const waitedMs = now - waiter.enqueuedAt;
    this.metrics.admitted(sample, waitedMs);
    let released = false;
    waiter.resolve({
      waitedMs,
      release: ({ outcome, usage, rateLimit }) => {
        if (released) return;
        released = true;
        const saturated = this.inFlight >= this.aimd.limit;
        this.inFlight--;
        this.aimd.record(outcome, stamp, saturated);
        this.metrics.finished(outcome);
        const actual = usage
          ? actualUnits(usage.inputTokens, usage.outputTokens)
          : outcome === "rate_limited"
            ? actualUnits(0, 0)
            : waiter.units;
        Object.assign(sample.units, actual);
        const adjustments = this.buckets.reconcile(charges, actual, outcome, rateLimit);
        if (adjustments.length === 0) return this.rewake();
        // Ask again only once the backend has the refund, or the answer is the old one.
        this.ctx.track(
          this.ctx.backend.settle(this.dependency, adjustments).finally(() => this.rewake()),
        );
      },
    });
  }
}

function actualUnits(inputTokens: number, outputTokens: number): Record<BucketName, number> {
  return { requests: 1, tokens: inputTokens + outputTokens, inputTokens, outputTokens };
}

function refund(charges: readonly Charge[]): Adjustment[] {
  return charges.map((c) => ({
    bucket: c.bucket,
    units: -c.units,
    intervalMs: c.intervalMs,
    floorMs: 0,
  }));
}
