import type { OutageWait } from "../resilience/outage.js";
import type { Execution } from "./Execution.js";
import { firstOf } from "./inlineWait.js";

/** Which step waits, as its journal events name it. */
export interface WaitingStep {
  step: string;
  kind: "llm" | "tool";
  name: string;
}

/**
 * How a step of `exec` waits out its dependency's outage (see
 * `throughOutages`): in memory for at most the inline window in all, and only
 * with a worker slot to spare, given back as soon as other work wants it
 * (the rules of inline waits); otherwise suspended, its slot released, until
 * the dependency's next try. The wait ends at the run's deadline, or
 * `outageWaitMs` after the step first met the outage (journaled as
 * `outage.waiting` when it first suspends, so the bound holds across
 * suspensions and crashes). Undefined when the host does not wait out
 * outages (`outageWaitMs` 0). Costs nothing until an outage is met: every
 * call of a step builds one. `signal` may be a function that makes it,
 * asked only when an outage is met (a step's own signal is made lazily).
 */
export function outageWait(
  exec: Execution,
  signal: AbortSignal | (() => AbortSignal),
  waiting: WaitingStep,
  deadline: number | undefined,
): OutageWait | undefined {
  return exec.host.outageWaitMs <= 0
    ? undefined
    : new StepOutageWait(exec, signal, waiting, deadline);
}

/** One step's outage wait: a class, so a call that meets no outage builds one object, no closures. */
class StepOutageWait implements OutageWait {
  /** When the step first met the outage, once asked. */
  private since: number | undefined;
  /** Whether `since` is journaled (by an earlier execution, or by `suspend`). */
  private journaled = false;
  /** Time held in memory so far, against the inline window. */
  private heldMs = 0;

  constructor(
    private readonly exec: Execution,
    private readonly signalOrMake: AbortSignal | (() => AbortSignal),
    private readonly waiting: WaitingStep,
    private readonly deadline: number | undefined,
  ) {}

  get signal(): AbortSignal {
    const s = this.signalOrMake;
    return typeof s === "function" ? s() : s;
  }

  get until(): number {
    const longest = this.start() + this.exec.host.outageWaitMs;
    return this.deadline === undefined ? longest : Math.min(this.deadline, longest);
  }

  async hold(ready: () => Promise<void>, at: number): Promise<boolean> {
    const { exec, signal } = this;
    const { clock, inlineWaits } = exec.host;
    const start = clock.now();
    if (at - start > inlineWaits.windowMs - this.heldMs) return false;
    const hold = inlineWaits.hold();
    if (!hold) return false;
    const timer = new AbortController();
    try {
      // Settled either way: an abort is seen through `signal`, and nothing is left unhandled.
      const due = clock.sleep(Math.max(0, at - start), timer.signal).catch(() => undefined);
      const recovered = ready().catch(() => undefined);
      await firstOf(signal, [recovered, due, hold.wanted]);
      exec.assertOpen(signal);
      exec.checkLease();
      return !hold.released;
    } finally {
      timer.abort();
      hold.leave();
      this.heldMs += clock.now() - start;
    }
  }

  async suspend(reason: string, wakeAt: number): Promise<never> {
    const first = this.start();
    if (!this.journaled) {
      this.journaled = true;
      const { step, kind, name } = this.waiting;
      const data = { kind, name, reason, since: first };
      await this.exec.write([{ type: "outage.waiting", step, data }]);
    }
    return this.exec.block(this.signal, reason, wakeAt);
  }

  /** When the step first met the outage: as journaled by an earlier execution, or now. */
  private start(): number {
    if (this.since === undefined) {
      const recorded = this.exec.journal.get(this.waiting.step)?.waitingSince;
      this.journaled = recorded !== undefined;
      this.since = recorded ?? this.exec.host.clock.now();
    }
    return this.since;
  }
}
