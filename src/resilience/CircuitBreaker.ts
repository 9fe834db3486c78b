import type { Clock } from "../core/clock.js";
import { FlotillaError } from "../core/errors.js";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Failure share over the window that opens the breaker. Default 0.5. */
  failureRatio: number;
  /** Calls needed in the window before the ratio counts. Default 10. */
  minimumCalls: number;
  /** Window of recent calls considered. Default 10 s. */
  windowMs: number;
  /**
   * At most this many of the most recent calls in the window count. Default 20:
   * a minute of healthy traffic must not hide an outage that began a second ago.
   */
  windowCalls: number;
  /** How long an open breaker fails fast before probing. Default 5 s. */
  cooldownMs: number;
  /** Concurrent probe calls let through while half-open. Default 1. */
  halfOpenProbes: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  failureRatio: 0.5,
  minimumCalls: 10,
  windowMs: 10_000,
  windowCalls: 20,
  cooldownMs: 5_000,
  halfOpenProbes: 1,
};

export class BreakerOpenError extends FlotillaError {
  constructor(dependency: string, retryInMs: number) {
    super(
      "FLOTILLA_BREAKER_OPEN",
      `circuit breaker for '${dependency}' is open; failing fast (probing again in ${retryInMs} ms)`,
      {
        dependency,
        retryInMs,
        dontRetry: true,
      },
    );
  }
}

export interface BreakerSnapshot {
  state: BreakerState;
  openedAt: number | null;
}

/**
 * Per-dependency circuit breaker: opens when the failure ratio over a window
 * passes the threshold (with a minimum number of calls), fails fast while
 * open, then lets a few probes through; one success closes it, one failure
 * re-opens it. State serializes so workers can share it.
 */
export class CircuitBreaker {
  private state: BreakerState = "closed";
  private openedAt: number | null = null;
  private probes = 0;
  private calls: { at: number; ok: boolean }[] = [];
  private readonly listeners = new Set<(s: BreakerState) => void>();

  constructor(
    readonly dependency: string,
    private readonly clock: Clock,
    readonly options: BreakerOptions = DEFAULT_BREAKER,
    initialState?: BreakerSnapshot,
  ) {
    if (initialState) {
      this.state = initialState.state;
      this.openedAt = initialState.openedAt;
    }
  }

  get current(): BreakerState {
    if (
      this.state === "open" &&
      this.clock.now() - (this.openedAt ?? 0) >= this.options.cooldownMs
    ) {
      this.transition("half-open");
    }
    return this.state;
  }

  /** When an open breaker lets its next probe through; undefined unless open. */
  get probeAt(): number | undefined {
    return this.current === "open" ? (this.openedAt ?? 0) + this.options.cooldownMs : undefined;
  }

  /** Throws BreakerOpenError unless a call may go through now; returns a token for `record`. */
  admit(): "normal" | "probe" {
    const state = this.current;
    if (state === "closed") return "normal";
    if (state === "half-open" && this.probes < this.options.halfOpenProbes) {
      this.probes++;
      return "probe";
    }
    const left = Math.max(0, this.options.cooldownMs - (this.clock.now() - (this.openedAt ?? 0)));
    throw new BreakerOpenError(this.dependency, left);
  }

  /** Reports how an admitted call went. Failures that are the caller's fault should not be recorded. */
  record(kind: "normal" | "probe", ok: boolean): void {
    const now = this.clock.now();
    if (kind === "probe") {
      this.probes = Math.max(0, this.probes - 1);
      if (ok) {
        this.calls = [];
        this.transition("closed");
      } else this.open(now);
      return;
    }
    this.calls.push({ at: now, ok });
    this.calls = this.calls
      .filter((c) => now - c.at <= this.options.windowMs)
      .slice(-Math.max(this.options.windowCalls, this.options.minimumCalls));
    if (this.state !== "closed" || ok || this.calls.length < this.options.minimumCalls) return;
    const failures = this.calls.filter((c) => !c.ok).length;
    if (failures / this.calls.length >= this.options.failureRatio) this.open(now);
  }

  /** Opens because a peer saw the dependency fail (shared state), if that is newer. */
  adopt(snapshot: BreakerSnapshot): void {
    if (snapshot.state !== "open" || snapshot.openedAt === null) return;
    if (this.state === "open" && (this.openedAt ?? 0) >= snapshot.openedAt) return;
    if (this.clock.now() - snapshot.openedAt >= this.options.cooldownMs) return;
    this.openedAt = snapshot.openedAt;
    this.transition("open");
  }

  onStateChange(listener: (s: BreakerState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  toJSON(): BreakerSnapshot {
    return { state: this.current, openedAt: this.openedAt };
  }

  private open(now: number): void {
    this.openedAt = now;
    this.calls = [];
    this.transition("open");
  }

  private transition(to: BreakerState): void {
    if (this.state === to) return;
    this.state = to;
    if (to !== "half-open") this.probes = 0;
    for (const l of this.listeners) l(to);
  }
}
