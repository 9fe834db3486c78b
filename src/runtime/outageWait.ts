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
 * `outageWaitMs` after the step first waited (journaled as `outage.waiting`,
 * so the bound holds across suspensions and crashes). Undefined when the
 * host does not wait out outages (`outageWaitMs` 0).
 */
export function outageWait(
  exec: Execution,
  signal: AbortSignal,
  waiting: WaitingStep,
  deadline: number | undefined,
): OutageWait | undefined {
  const { clock, outageWaitMs, inlineWaits } = exec.host;
  if (outageWaitMs <= 0) return undefined;
  let since = exec.journal.get(waiting.step)?.waitingSince;
  let heldMs = 0;
  return {
    signal,
    get until() {
      const longest = (since ?? clock.now()) + outageWaitMs;
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
      if (since === undefined) {
        since = clock.now();
        const { step, kind, name } = waiting;
        await exec.write([{ type: "outage.waiting", step, data: { kind, name, reason, since } }]);
      }
      return exec.block(signal, reason, wakeAt);
    },
  };
}
