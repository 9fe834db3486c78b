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
 * call of a step builds one.
 */
export function outageWait(
  exec: Execution,
  signal: AbortSignal,
  waiting: WaitingStep,
  deadline: number | undefined,
): OutageWait | undefined {
  const { clock, outageWaitMs, inlineWaits } = exec.host;
  if (outageWaitMs <= 0) return undefined;
  let since: number | undefined;
  let journaled = false;
  /** When the step first met the outage: as journaled by an earlier execution, or now. */
  const start = (): number => {
    if (since === undefined) {
      const recorded = exec.journal.get(waiting.step)?.waitingSince;
      journaled = recorded !== undefined;
      since = recorded ?? clock.now();
    }
    return since;
  };
  let heldMs = 0;
  return {
    signal,
    get until() {
      const longest = start() + outageWaitMs;
      return deadline === undefined ? longest : Math.min(deadline, longest);
    },
    hold: async (ready, at) => {
      const start = clock.now();
      if (at - start > inlineWaits.windowMs - heldMs) return false;
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
        heldMs += clock.now() - start;
      }
    },
    suspend: async (reason, wakeAt) => {
      const first = start();
      if (!journaled) {
        journaled = true;
        const { step, kind, name } = waiting;
        const data = { kind, name, reason, since: first };
        await exec.write([{ type: "outage.waiting", step, data }]);
      }
      return exec.block(signal, reason, wakeAt);
    },
  };
}
