import type { Rng } from "../../core/rng.js";
import type { SimFaults } from "./options.js";

export type Fault =
  | { kind: "none" }
  | { kind: "error"; status: number }
  | { kind: "reset" }
  | { kind: "timeout" }
  | { kind: "lost" };

/** One uniform draw against the cumulative rates, so the rates are exact shares. */
export function drawFault(faults: SimFaults, rng: Rng): Fault {
  const u = rng.next();
  let edge = faults.errorRate;
  if (u < edge) return { kind: "error", status: rng.pick(faults.errorStatuses) };
  edge += faults.resetRate;
  if (u < edge) return { kind: "reset" };
  edge += faults.timeoutRate;
  if (u < edge) return { kind: "timeout" };
  edge += faults.lostResponseRate;
  if (u < edge) return { kind: "lost" };
  return { kind: "none" };
}

export function inOutage(windows: [number, number][], sinceStartMs: number): boolean {
  return windows.some(([start, end]) => sinceStartMs >= start && sinceStartMs < end);
}
