import type { Clock } from "../core/clock.js";
import { DependencyUnavailableError, isFlotillaError } from "../core/errors.js";
import type { CircuitBreaker } from "./CircuitBreaker.js";
import { classify } from "./classify.js";

/** While a probe is in flight (breaker half-open), others look again this often. */
const PROBE_PENDING_MS = 250;
/** A dependency failing with its breaker still closed is tried again after this long. */
const CLOSED_RETRY_MS = 1_000;
/** After a recovery, waiting calls resume in doubling waves this far apart (1, 2, 4, … calls). */
const WAVE_MS = 250;
/** Suspended runs wake spread over this long after a probe, not all at once. */
const WAKE_SPREAD_MS = 1_000;
/** A try this close to the end of the wait could not finish in time: the wait ends instead. */
const LAST_TRY_MS = 250;

/**
 * Whether a call failed because its dependency is unavailable rather than
 * because of the call: the breaker or adaptive throttling refused it, or its
 * retries (or the retry budget) ran out on transient failures. Such a call
 * may be waited out: nothing about it needs to change for it to succeed later.
 */
export function isOutage(err: unknown): boolean {
  if (isFlotillaError(err, "FLOTILLA_BREAKER_OPEN") || isFlotillaError(err, "FLOTILLA_THROTTLED"))
    return true;
  if (
    isFlotillaError(err, "FLOTILLA_RETRIES_EXHAUSTED") ||
    isFlotillaError(err, "FLOTILLA_RETRY_BUDGET_EXHAUSTED")
  ) {
    const c = classify((err as Error).cause);
    return c.retryable && c.dependencyFault;
  }
  return false;
}

/**
 * When a dependency that is down may be tried again, and when it has come
 * back: its breaker's transitions to closed (a probe succeeded) end the
 * current outage for every call waiting on it in this process, and those
 * resume in doubling waves so the recovered dependency is not hit by all of
 * them at once.
 */
export class Recovery {
  private recovered: Promise<void> | undefined;
  private announce: (() => void) | undefined;
  private recoveredAt = 0;
  private resumed = 0;

  constructor(
    private readonly breaker: CircuitBreaker,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {
    breaker.onStateChange((state) => {
      if (state !== "closed") return;
      this.recoveredAt = clock.now();
      this.resumed = 0;
      this.announce?.();
      this.recovered = undefined;
      this.announce = undefined;
    });
  }

  /** Resolves at the next recovery. Take it before the call, so a recovery during the call counts. */
  next(): Promise<void> {
    this.recovered ??= new Promise<void>((resolve) => (this.announce = resolve));
    return this.recovered;
  }

  /** When a call refused for an outage may be tried again (a probe, or a fresh attempt). */
  nextTryAt(): number {
    const now = this.clock.now();
    const probeAt = this.breaker.probeAt;
    if (probeAt !== undefined) return Math.max(now, probeAt);
    return now + (this.breaker.current === "half-open" ? PROBE_PENDING_MS : CLOSED_RETRY_MS);
  }

  /**
   * A suspended run's wake-up: the next try, spread so woken runs do not
   * arrive together, and early enough before `until` to still try.
   */
  wakeAt(until: number): number {
    const at = this.nextTryAt();
    const spread = Math.max(0, Math.min(WAKE_SPREAD_MS, (until - LAST_TRY_MS - at) / 2));
    return at + Math.floor(this.random() * spread);
  }

  /** Waits for this caller's wave after the last recovery: waves of 1, 2, 4, … calls. */
  async turn(signal: AbortSignal): Promise<void> {
    const wave = Math.floor(Math.log2(++this.resumed));
    const wait = this.recoveredAt + wave * WAVE_MS - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait, signal);
  }
}

/** How a run waits out its dependency's outage; see `throughOutages`. */
export interface OutageWait {
  readonly signal: AbortSignal;
  /** No wait goes past this: the run's deadline, or the longest outage wait. */
  readonly until: number;
  /**
   * Waits in memory, keeping the worker slot, until `ready()` resolves or
   * the time `at`: resolves true then, or false as soon as it should not
   * hold the slot any longer (it is wanted, or held long enough). `ready`
   * is asked only for a wait actually held.
   */
  hold(ready: () => Promise<void>, at: number): Promise<boolean>;
  /**
   * Suspends the run, its slot released, until `wakeAt`; settles only if
   * aborted. Absent for a wait whose `hold` never lets go.
   */
  suspend?: (reason: string, wakeAt: number) => Promise<never>;
}

/**
 * A wait held in memory to its end, never suspended: for an effect whose
 * intent is journaled with the call's deadline, so its retries must stay
 * within that deadline, as one slow call would. `stop.signal` is read only
 * when an outage is met (it may be made when read: see LazyLinkedAbort).
 */
export function heldOutageWait(
  stop: { readonly signal: AbortSignal },
  until: number,
  clock: Clock,
): OutageWait {
  return new HeldOutageWait(stop, until, clock);
}

/** A class, so a call that meets no outage builds one object and reads no signal. */
class HeldOutageWait implements OutageWait {
  constructor(
    private readonly stop: { readonly signal: AbortSignal },
    readonly until: number,
    private readonly clock: Clock,
  ) {}

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  async hold(ready: () => Promise<void>, at: number): Promise<boolean> {
    const { signal, clock } = this;
    const done = new AbortController();
    const onAbort = () => done.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      // Settled either way: an abort is seen by the next call, which fails with it.
      const due = clock.sleep(Math.max(0, at - clock.now()), done.signal);
      await Promise.race([ready(), due]).catch(() => undefined);
      return true;
    } finally {
      done.abort();
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * Calls through a dependency's outages: a call refused because the
 * dependency is down (see `isOutage`) waits, in memory for a short while,
 * then suspended, and is tried again at the breaker's next probe or once it
 * has recovered; past `wait.until` it fails with DependencyUnavailableError,
 * naming the dependency.
 */
export async function throughOutages<T>(
  dependency: { readonly name: string; readonly recovery: Recovery },
  call: () => Promise<T>,
  wait: OutageWait,
): Promise<T> {
  const { recovery } = dependency;
  for (;;) {
    const recovered = recovery.next();
    try {
      return await call();
    } catch (err) {
      // Its signal is read only for an outage: reading it may make it.
      if (!isOutage(err) || wait.signal.aborted) throw err;
      const at = recovery.nextTryAt();
      if (at >= wait.until - LAST_TRY_MS)
        throw new DependencyUnavailableError(dependency.name, wait.until, err);
      const ready = () => recovered.then(() => recovery.turn(wait.signal));
      if (!(await wait.hold(ready, at)))
        await wait.suspend?.(`dependency ${dependency.name}`, recovery.wakeAt(wait.until));
    }
  }
}
