/** A controller that also aborts when `parent` does; `dispose` unhooks it from the parent. */
export interface LinkedAbort {
  readonly controller: AbortController;
  readonly dispose: () => void;
}

/**
 * Links a new controller under `parent`. The listener on the parent is
 * removed by `dispose` (call it when the child's work settles), so a run
 * that makes thousands of calls does not pile listeners on its signal.
 */
export function linkedAbort(parent: AbortSignal): LinkedAbort {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener("abort", onAbort, { once: true });
  return { controller, dispose: () => parent.removeEventListener("abort", onAbort) };
}

/** Whether work was stopped, and why: what an AbortSignal says, readable without one. */
export interface AbortState {
  readonly aborted: boolean;
  readonly reason: unknown;
}

/**
 * What a step stops on: a signal, or a lazily made one (`LazyLinkedAbort`)
 * whose state is read without making it. Use `signalOf` where only a real
 * signal will do.
 */
export type AbortSource = AbortSignal | LazyLinkedAbort;

/** The signal of `source`, made now if it is lazy and not made yet. */
export function signalOf(source: AbortSource): AbortSignal {
  return source instanceof LazyLinkedAbort ? source.signal : source;
}

/**
 * `linkedAbort(parent)` whose signal is made only when something reads it.
 * Most steps end without anyone reading their own signal, and Node makes an
 * AbortSignal slowly (about 2 µs: an EventTarget given a new prototype).
 * Reads agree with the linked controller at every moment: before the signal
 * exists, an abort (the first wins, the parent's included) is remembered and
 * the signal is made already aborted with that reason; after `dispose`, the
 * parent no longer counts, as an unhooked controller no longer hears it.
 * The parent may be lazy too: its signal is made only when this one is.
 * One difference remains: the child hears its parent from its first read,
 * so a listener added on the parent before that read runs before the child
 * is aborted (the eager child's, added at creation, ran first).
 */
export class LazyLinkedAbort implements AbortState {
  private link: LinkedAbort | undefined;
  /** The abort seen before the signal was made, if any. */
  private stopped: { reason: unknown } | undefined;
  private disposed = false;

  constructor(private readonly parent: AbortSource) {}

  get signal(): AbortSignal {
    if (this.link) return this.link.controller.signal;
    this.settleFromParent();
    if (this.stopped || this.disposed) {
      const controller = new AbortController();
      if (this.stopped) controller.abort(this.stopped.reason);
      this.link = { controller, dispose: () => undefined };
    } else this.link = linkedAbort(signalOf(this.parent));
    return this.link.controller.signal;
  }

  get aborted(): boolean {
    if (this.link) return this.link.controller.signal.aborted;
    this.settleFromParent();
    return this.stopped !== undefined;
  }

  get reason(): unknown {
    if (this.link) return this.link.controller.signal.reason as unknown;
    this.settleFromParent();
    return this.stopped?.reason;
  }

  abort(reason?: unknown): void {
    if (this.link) return this.link.controller.abort(reason);
    this.settleFromParent();
    // AbortController.abort with no reason aborts with an AbortError: made by a real one.
    this.stopped ??= { reason: reason === undefined ? abortError() : reason };
  }

  dispose(): void {
    if (this.link) return this.link.dispose();
    this.settleFromParent();
    this.disposed = true;
  }

  /** A parent abort a linked controller would have heard by now (not once disposed). */
  private settleFromParent(): void {
    if (!this.stopped && !this.disposed && this.parent.aborted)
      this.stopped = { reason: this.parent.reason };
  }
}

/** The reason `AbortController.abort()` gives when given none. */
function abortError(): unknown {
  const controller = new AbortController();
  controller.abort();
  return controller.signal.reason;
}
