import { setMaxListeners } from "node:events";
import type { SimProvider } from "../../src/sim/index.js";
import { goodputOfAdmissible, round, taskKey, tenantFairness } from "./measure.js";
import type { CallLog, FleetSide } from "./sides.js";
import { startOffsets, TENANTS, type Scenario } from "./workload.js";

/**
 * Drives `side` as a closed loop: `threads` workers, each starting its next
 * task as soon as the last one ended, until the window closes; tasks still
 * running then are cut off (and their calls aborted) and counted as cut,
 * neither completed nor failed.
 */
export async function measureWindow(
  sim: SimProvider,
  s: Scenario,
  side: FleetSide,
  apiKey: string,
  log: CallLog,
) {
  const close = new AbortController();
  // Every thread listens for the window to close.
  setMaxListeners(s.threads + 1, close.signal);
  const failed = new Set<string>();
  let completed = 0;
  let cut = 0;
  log.start();
  const timer = setTimeout(() => close.abort(), s.windowMs);
  await Promise.all(
    startOffsets(s.threads).map(async (offsetMs, thread) => {
      await new Promise((r) => setTimeout(r, offsetMs));
      for (let task = 0; !close.signal.aborted; task++) {
        // A signal per task: clients attach a listener to it per call.
        const own = new AbortController();
        const cutOff = (): void => own.abort(close.signal.reason);
        close.signal.addEventListener("abort", cutOff, { once: true });
        try {
          await side.runTask(thread, task, s.callsPerTask, own.signal);
          if (close.signal.aborted) cut++;
          else completed++;
        } catch {
          if (close.signal.aborted) cut++;
          else failed.add(taskKey(thread, task));
        } finally {
          close.signal.removeEventListener("abort", cutOff);
        }
      }
    }),
  );
  clearTimeout(timer);
  const key = sim.stats().keys[apiKey];
  const requests = key?.requests ?? 0;
  const status429 = key?.rateLimited ?? 0;
  const inWindow = log.calls.filter((c) => c.at <= s.windowMs);
  return {
    threads: s.threads,
    windowMs: s.windowMs,
    tasks: { completed, failed: failed.size, cut },
    /** Every answer in the window, useful or not. */
    answered: {
      calls: inWindow.length,
      tokens: inWindow.reduce((n, c) => n + c.inputTokens + c.outputTokens, 0),
    },
    providerRequests: requests,
    status429,
    status429Share: requests === 0 ? 0 : round(status429 / requests, 4),
    ...goodputOfAdmissible(log.calls, failed, s.windowMs, s),
    ...tenantFairness(log.calls, failed, s.windowMs, TENANTS),
    ...side.figures(),
  };
}
export type WindowFigures = Awaited<ReturnType<typeof measureWindow>>;
