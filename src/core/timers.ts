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
