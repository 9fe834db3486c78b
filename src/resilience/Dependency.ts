import type { Clock } from "../core/clock.js";
import {
  DeadlineExceededError,
  RetriesExhaustedError,
  RetryBudgetExhaustedError,
  ThrottledError,
} from "../core/errors.js";
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { CircuitBreaker, type BreakerOptions, type BreakerState } from "./CircuitBreaker.js";
import { classify, type Classification, type ErrorClassifier } from "./classify.js";
import { LatencyTracker } from "./LatencyTracker.js";
import { Recovery } from "./outage.js";
import { RetryBudget, type RetryBudgetOptions } from "./RetryBudget.js";

export interface DependencyPolicy {
  /** Attempts per logical call, the first included. Default 3. */
  maxAttempts: number;
  backoff: BackoffOptions;
  budget: RetryBudgetOptions;
  breaker: BreakerOptions;
  /**
   * Client-side adaptive throttling (SRE book): reject locally with
   * probability max(0, (requests − k·accepts) / (requests + 1)). Off by default.
   */
  adaptiveThrottlingK: number | null;
}

export interface DependencyMetrics {
  /** Logical calls: what the agent asked for. */
  calls: number;
  /** Upstream attempts actually sent. */
  attempts: number;
  retries: number;
  budgetRejections: number;
  breakerRejections: number;
  breakerTransitions: number;
  throttled: number;
  failures: number;
}

export interface ExecuteOptions {
  signal: AbortSignal;
  /** Absolute time after which no attempt may start. */
  deadline?: number | undefined;
  /**
   * Whether a failed attempt may be repeated at all: false for effects that
   * are not safe to repeat, or a test of the error (e.g. "the effect
   * certainly did not happen").
   */
  retryable: boolean | ((err: unknown) => boolean);
  classifier?: ErrorClassifier | undefined;
  /** Called with each failed attempt's classification (for journals and metrics). */
  onFailure?: ((attempt: number, c: Classification) => void) | undefined;
}

/**
 * The one retry owner for a dependency (provider+model+credential, or a
 * tool): classification, capped full-jitter backoff honouring retry-after,
 * an attempt cap, a retry budget, a circuit breaker and deadline checks.
 */
export class Dependency {
  readonly breaker: CircuitBreaker;
  readonly budget: RetryBudget;
  readonly latency = new LatencyTracker();
  /** When calls refused for an outage may try again, and when it is over. */
  readonly recovery: Recovery;
  readonly metrics: DependencyMetrics = {
    calls: 0,
    attempts: 0,
    retries: 0,
    budgetRejections: 0,
    breakerRejections: 0,
    breakerTransitions: 0,
    throttled: 0,
    failures: 0,
  };
  private throttle = { requests: 0, accepts: 0, since: 0 };

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    private readonly random: () => number,
    readonly policy: DependencyPolicy,
  ) {
    this.breaker = new CircuitBreaker(name, clock, policy.breaker);
    this.budget = new RetryBudget(clock, policy.budget);
    this.breaker.onStateChange(() => this.metrics.breakerTransitions++);
    this.recovery = new Recovery(this.breaker, clock, random);
  }

  get breakerState(): BreakerState {
    return this.breaker.current;
  }

  /** Upstream attempts per logical call so far. */
  get amplification(): number {
    return this.metrics.calls === 0 ? 0 : this.metrics.attempts / this.metrics.calls;
  }

  async execute<T>(
    fn: (attempt: number) => Promise<T>,
    options: ExecuteOptions,
  ): Promise<{ value: T; attempts: number }> {
    this.metrics.calls++;
    this.budget.recordRequest();
    for (let attempt = 1; ; attempt++) {
      this.checkDeadline(options.deadline, 0);
      this.checkThrottle();
      let admitted: "normal" | "probe";
      try {
        admitted = this.breaker.admit();
      } catch (err) {
        this.metrics.breakerRejections++;
        throw err;
      }
      this.metrics.attempts++;
      this.throttle.requests++;
      const started = this.clock.now();
      try {
        const value = await fn(attempt);
        this.breaker.record(admitted, true);
        this.latency.record(this.clock.now() - started);
        this.throttle.accepts++;
        return { value, attempts: attempt };
      } catch (err) {
        if (options.signal.aborted) throw err;
        const c = classify(err, options.classifier);
        this.breaker.record(admitted, !c.dependencyFault);
        if (!c.dependencyFault) this.throttle.accepts++;
        this.metrics.failures++;
        options.onFailure?.(attempt, c);
        const safe =
          typeof options.retryable === "function" ? options.retryable(err) : options.retryable;
        if (!c.retryable || !safe) throw err;
        if (attempt >= this.policy.maxAttempts)
          throw new RetriesExhaustedError(this.name, attempt, err);
        if (!this.budget.tryRetry()) {
          this.metrics.budgetRejections++;
          throw new RetryBudgetExhaustedError(this.name, err);
        }
        const delay = backoffDelay(attempt, this.random, this.policy.backoff, c.retryAfterMs);
        this.checkDeadline(options.deadline, delay);
        this.metrics.retries++;
        await this.clock.sleep(delay, options.signal);
      }
    }
  }

  /** No attempt starts when less time is left than this dependency usually takes. */
  private checkDeadline(deadline: number | undefined, waitMs: number): void {
    if (deadline === undefined) return;
    const left = deadline - this.clock.now() - waitMs;
    const needed = Math.max(1, this.latency.median());
    if (left < needed) {
      throw new DeadlineExceededError(
        `'${this.name}'`,
        deadline,
        left <= 0
          ? "has passed"
          : `leaves ${Math.round(left)} ms, less than the ${Math.round(needed)} ms a call usually takes`,
      );
    }
  }

  private checkThrottle(): void {
    const k = this.policy.adaptiveThrottlingK;
    if (k === null) return;
    const now = this.clock.now();
    // Two minutes of history, as in the SRE book; older counts are halved away.
    if (now - this.throttle.since > 120_000)
      this.throttle = { requests: 0, accepts: 0, since: now };
    const p = Math.max(
      0,
      (this.throttle.requests - k * this.throttle.accepts) / (this.throttle.requests + 1),
    );
    if (p > 0 && this.random() < p) {
      this.metrics.throttled++;
      this.throttle.requests++;
      throw new ThrottledError(this.name, p);
    }
  }
}
