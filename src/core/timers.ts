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

export interface DeadlineSignal {
  /** Aborts with `parent`'s reason, or with `timeout` once the time is up. */
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
 * holds the controller, and `dispose` releases both.
 */
export function abortAfter(parent: AbortSignal, ms: number): DeadlineSignal {
  const controller = new AbortController();
  let timeout: Error | undefined;
  const onParent = () => controller.abort(parent.reason);
  let expire!: (err: Error) => void;
  const expired = new Promise<never>((_, reject) => (expire = reject));
  // Nobody need be listening when it fires.
  expired.catch(() => undefined);
  const timer = setLongTimeout(() => {
    timeout = new DOMException(`the deadline of ${ms} ms has passed`, "TimeoutError");
    controller.abort(timeout);
    expire(timeout);
  }, ms);
  if (parent.aborted) onParent();
  else parent.addEventListener("abort", onParent, { once: true });
  return {
    signal: controller.signal,
    get timeout() {
      return timeout;
    },
    expired,
    dispose: () => {
      timer.clear();
      parent.removeEventListener("abort", onParent);
    },
  };
}
