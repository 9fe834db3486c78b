import { LazyLinkedAbort, type AbortSource, type AbortState } from "./abort.js";

/** Node clamps a timer's delay above this to 1 ms: longer waits are chained. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimeout {
  clear(): void;
  /** Lets the process exit while only this timer is pending. */
  unref(): LongTimeout;
}

/**
 * `setTimeout` for any delay: a 30-day deadline must not fire at once (Node
 * clamps delays over 2^31 − 1 ms to 1 ms), so long waits are a chain of
 * shorter timers.
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimeout {
  const dueAt = Date.now() + Math.max(0, ms);
  let timer: NodeJS.Timeout;
  let unref = false;
  const arm = (): void => {
    const left = dueAt - Date.now();
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    if (unref) timer.unref();
  };
  arm();
  const handle: LongTimeout = {
    clear: () => clearTimeout(timer),
    unref: () => {
      unref = true;
      timer.unref();
      return handle;
    },
  };
  return handle;
}

export interface DeadlineSignal extends AbortState {
  /**
   * Aborts with `parent`'s reason, or with `timeout` once the time is up.
   * Made when first read: `aborted` and `reason` say the same without it.
   */
  readonly signal: AbortSignal;
  /**
   * The error the signal aborts with once the time is up (a DOMException
   * named TimeoutError); undefined before. Made only then: most calls end
   * first, and a DOMException costs a stack trace.
   */
  readonly timeout: Error | undefined;
  /**
   * Rejects with `timeout` once the time is up (never if disposed first):
   * race work against it, so work that ignores its signal cannot outlive the
   * deadline.
   */
  readonly expired: Promise<never>;
  /** Clears the timer and the link to `parent`; call it when the work is done. */
  dispose(): void;
}

/**
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])` without its trap: a
 * timeout signal held only by a composite can be garbage-collected before it
 * fires (nodejs/node#57736), and a call then waits forever. Here the timer
 * holds the controller, and `dispose` releases both. The signal is made
 * only if something reads it (see LazyLinkedAbort): most calls end without
 * anyone listening, and the timer alone keeps the deadline.
 */
export function abortAfter(parent: AbortSource, ms: number): DeadlineSignal {
  return new Deadline(parent, ms);
}

/** A class, so a deadline nobody listens to costs a few fields, not closures and a signal. */
class Deadline implements DeadlineSignal {
  private readonly stop: LazyLinkedAbort;
  private readonly timer: LongTimeout;
  private expiredWith: Error | undefined;
  readonly expired: Promise<never>;

  constructor(parent: AbortSource, ms: number) {
    this.stop = new LazyLinkedAbort(parent);
    let expire!: (err: Error) => void;
    this.expired = new Promise<never>((_, reject) => (expire = reject));
    // Nobody need be listening when it fires.
    this.expired.catch(() => undefined);
    this.timer = setLongTimeout(() => {
      const timeout = new DOMException(`the deadline of ${ms} ms has passed`, "TimeoutError");
      this.expiredWith = timeout;
      this.stop.abort(timeout);
      expire(timeout);
    }, ms);
  }

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  get aborted(): boolean {
    return this.stop.aborted;
  }

  get reason(): unknown {
    return this.stop.reason;
  }

  get timeout(): Error | undefined {
    return this.expiredWith;
  }

  dispose(): void {
    this.timer.clear();
    this.stop.dispose();
  }
}
