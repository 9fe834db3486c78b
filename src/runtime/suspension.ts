import { CancelledError } from "../core/errors.js";
import type { NewEvent } from "../store/types.js";
import type { CommitExtra } from "./Execution.js";

/** A step blocked until something outside its execution happens (a timer, a signal, a child). */
interface Wait {
  reason: string;
  wakeAt: number | null;
}

/** What suspending needs from the execution it suspends. */
export interface Suspendable {
  runId(): string;
  /** The run's absolute deadline, if any: a waiting run wakes then at the latest. */
  deadline(): number | undefined;
  /** False once the execution stops or ends: it is not suspended then. */
  mayStillSuspend(): boolean;
  write(events: NewEvent[], extra: CommitExtra): Promise<void>;
  /** Ends the execution as suspended, or as lease-lost when the suspension could not be journaled. */
  closed(outcome: "suspended" | "lease-lost"): void;
}

/**
 * When an execution suspends its run: it counts the steps at work and the
 * waits blocked steps are in; once no step works and one waits, the run is
 * journaled as waiting (until the earliest timer or its deadline) and its
 * worker released. A woken run is replayed from its journal.
 */
export class Suspension {
  private active = 0;
  private readonly waits = new Set<Wait>();
  private checkScheduled = false;

  constructor(private readonly exec: Suspendable) {}

  /** A step starts working. */
  working(): void {
    this.active++;
  }

  /** A step stops working (it settled). */
  done(): void {
    this.active--;
    // Nothing waits: nothing to suspend for (a step that blocks comes back here with its wait).
    if (this.waits.size > 0) this.scheduleCheck();
  }

  /**
   * A working step blocks: it stops counting as work, and the promise
   * settles only if its branch is aborted (then it counts as work again).
   */
  block(signal: AbortSignal, reason: string, wakeAt: number | null): Promise<never> {
    const wait: Wait = { reason, wakeAt };
    this.waits.add(wait);
    this.done();
    return new Promise<never>((_, reject) => {
      const onAbort = () => {
        this.waits.delete(wait);
        this.active++;
        reject(
          signal.reason instanceof Error ? signal.reason : new CancelledError(this.exec.runId()),
        );
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    // After every pending microtask: agent code continuing from a step starts its next step first.
    setImmediate(() => {
      this.checkScheduled = false;
      if (this.active === 0 && this.waits.size > 0 && this.exec.mayStillSuspend())
        void this.suspend();
    });
  }

  private async suspend(): Promise<void> {
    const waits = [...this.waits];
    const wakeTimes = waits.map((w) => w.wakeAt).filter((t): t is number => t !== null);
    // A waiting run wakes at its deadline at the latest, to fail then rather than wait forever.
    const deadline = this.exec.deadline();
    if (deadline !== undefined) wakeTimes.push(deadline);
    const wakeAt = wakeTimes.length ? Math.min(...wakeTimes) : null;
    try {
      await this.exec.write(
        [{ type: "run.suspended", data: { waitingFor: waits.map((w) => w.reason), wakeAt } }],
        { status: { status: "waiting", wakeAt }, release: true },
      );
      this.exec.closed("suspended");
    } catch {
      this.exec.closed("lease-lost");
    }
  }
}
