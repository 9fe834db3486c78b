import { EventEmitter } from "node:events";
import type { Store } from "../store/types.js";
import type { Execution } from "./Execution.js";

/**
 * Inside its window an inline wait looks again at least this often, for the
 * wake-ups nobody announces to this process (a signal sent through another
 * process, a child settled by another process on SQLite).
 */
export const INLINE_POLL_MS = 250;

/** What inline waits need from the Flotilla instance hosting them. */
export interface InlineWaitsHost {
  readonly store: Store;
  /** How long a wait for a child or a signal is held in memory before its run suspends. */
  readonly inlineWaitMs: number;
  /** Free slots of the worker executing runs here; undefined with no worker, or once closing. */
  freeSlots(): number | undefined;
  /** Resolves when `runId` settles (as far as this process hears) or after `ms`. */
  settledOrPoll(runId: string, ms: number): Promise<void>;
}

/** One wait held in memory: it keeps its execution's worker slot until it ends or is released. */
interface Hold {
  released: boolean;
  /** Resolves once the slot is wanted back. */
  readonly wanted: Promise<void>;
  release(): void;
}

/**
 * The waits of this process held in memory, and when they must give their
 * slots back.
 *
 * A held wait keeps a worker slot, and what it waits for (a child run above
 * all) may need a slot of the same worker: holding must never starve it.
 * Two rules keep it from doing so:
 * - a wait is held only if, as it starts, the worker has a slot free
 *   besides the waiter's own. A spawn has just made its child runnable, and
 *   whether other work is queued cannot be told without asking the store,
 *   so a full worker (concurrency 1 always is) does not hold;
 * - once held, every wait gives its slot up as soon as the store announces
 *   runnable work while the worker is full (every slot taken, by waits or
 *   work), whoever that work is for.
 * Work that became runnable unannounced while the worker was full waits at
 * most the window. Giving up is always safe, as it is what every wait did
 * before: the run suspends and a wake-up replays it.
 */
export class InlineWaits {
  private readonly signals = new EventEmitter();
  private readonly holds = new Set<Hold>();
  private stopListening: (() => void) | undefined;

  constructor(private readonly host: InlineWaitsHost) {
    this.signals.setMaxListeners(0);
  }

  get windowMs(): number {
    return this.host.inlineWaitMs;
  }

  /** False once the host is closing: held waits end, so their runs suspend. */
  get open(): boolean {
    return this.host.freeSlots() !== undefined;
  }

  /** A signal for `runId` was sent through this process. */
  signalled(runId: string): void {
    this.signals.emit(runId);
  }

  /** Resolves when a signal for `runId` is sent through this process, or after `ms`. */
  signalledOrPoll(runId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.signals.off(runId, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.signals.on(runId, done);
    });
  }

  settledOrPoll(runId: string, ms: number): Promise<void> {
    return this.host.settledOrPoll(runId, ms);
  }

  /** Takes a hold, or undefined when the worker has no slot to spare for what the wait is for. */
  hold(): (Hold & { leave(): void }) | undefined {
    if ((this.host.freeSlots() ?? 0) === 0) return undefined;
    let release!: () => void;
    const wanted = new Promise<void>((resolve) => (release = resolve));
    const hold: Hold & { leave(): void } = {
      released: false,
      wanted,
      release: () => {
        hold.released = true;
        release();
      },
      leave: () => this.leave(hold),
    };
    if (this.holds.size === 0)
      this.stopListening = this.host.store.onRunnable(() => this.onRunnable());
    this.holds.add(hold);
    return hold;
  }

  private leave(hold: Hold): void {
    this.holds.delete(hold);
    if (this.holds.size > 0) return;
    this.stopListening?.();
    this.stopListening = undefined;
  }

  /**
   * Work became runnable: a full worker cannot claim it while waits hold its
   * slots, so all of them give their slots up (which of them would suffice
   * cannot be told from here).
   */
  private onRunnable(): void {
    if ((this.host.freeSlots() ?? 0) > 0) return;
    for (const h of this.holds) h.release();
  }
}

/** What a step waits for, as `waitInline` needs it. */
export interface InlineWait<T> {
  /** Looks for it: its value, or undefined while it has not happened. */
  look(): Promise<T | undefined>;
  /** Resolves when it may have happened, or after `ms`. */
  wake(ms: number): Promise<void>;
  /** Holds no longer than this (a waitFor's own timeout). Default: the host's window. */
  limitMs?: number;
}

/**
 * Waits in memory for what `wait.look` finds, keeping the run's lease (the
 * worker's heartbeat renews it) and its slot, for up to the host's inline
 * window. Resolves with it, or with undefined when it has not happened by
 * then or the slot is wanted: the step then blocks and the run suspends, as
 * every wait did before. Rejects when the step's signal aborts (a cancel, a
 * lost lease, a stop) or the lease can no longer be proven.
 *
 * The waiting step stays active work meanwhile, so its run suspends only
 * once every branch is blocked and every inline window is over.
 */
export async function waitInline<T>(
  exec: Execution,
  signal: AbortSignal,
  wait: InlineWait<T>,
): Promise<T | undefined> {
  const room = exec.host.inlineWaits;
  const until = Date.now() + Math.min(room.windowMs, wait.limitMs ?? Infinity);
  const hold = until > Date.now() ? room.hold() : undefined;
  if (!hold) return wait.look();
  try {
    for (;;) {
      // Listening before looking: a wake-up that lands during the look is not lost.
      const woken = wait.wake(Math.max(1, Math.min(INLINE_POLL_MS, until - Date.now())));
      const found = await wait.look();
      if (found !== undefined) return found;
      if (hold.released || !room.open || Date.now() >= until) return undefined;
      await firstOf(signal, [woken, hold.wanted]);
      exec.assertOpen(signal);
      exec.checkLease();
    }
  } finally {
    hold.leave();
  }
}

/** Resolves when the first of `wakes` does, or when `signal` aborts. */
export async function firstOf(signal: AbortSignal, wakes: Promise<void>[]): Promise<void> {
  if (signal.aborted) return;
  let onAbort!: () => void;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([...wakes, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
