import type { Rng } from "../../src/core/rng.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import {
  DELIBERATE_FAILURE,
  KEYED_TOOLS,
  UNKEYED_TOOLS,
  setupCrashAgents,
  type CrashAgentOptions,
} from "../crash/agents.js";
import { ORDER_TOOLS, ORDER_UNKEYED_TOOLS, setupOrderAgents } from "./orderAgents.js";
import { BAD_PAYLOADS, BAD_PLACES, setupPayloadAgents } from "./payloadAgents.js";

/** Every tool the recording service performs for. */
export const SERVICE_TOOLS: readonly string[] = [
  ...KEYED_TOOLS,
  ...UNKEYED_TOOLS,
  ...ORDER_TOOLS,
  "payload.effect",
];
/** Tools that are not idempotent and whose service does not honour keys: any repeat acted twice. */
export const BLIND_TOOLS: readonly string[] = [...UNKEYED_TOOLS, ...ORDER_UNKEYED_TOOLS];

/** Where every process of a scenario gets its agents: the same names and code everywhere. */
export function defineFleet(
  flotilla: Flotilla,
  serviceUrl: string,
  options: CrashAgentOptions = {},
): void {
  setupCrashAgents(flotilla, serviceUrl, options);
  setupPayloadAgents(flotilla, serviceUrl, options);
  setupOrderAgents(flotilla, serviceUrl, options);
}

/** One run to start, and the error codes it may legitimately fail with (none: it must complete). */
export interface RunPlan {
  agent: string;
  input: Record<string, unknown>;
  expect: readonly string[];
}

/** Support tickets (LLM, child run, every effect kind); a few fail on purpose. */
export function ticketPlans(rng: Rng, runs: number, failShare = 0.05): RunPlan[] {
  return Array.from({ length: runs }, (_, n) => {
    const fail = rng.next() < failShare;
    return {
      agent: "crash.ticket",
      input: fail ? { n, fail } : { n },
      expect: fail ? [DELIBERATE_FAILURE] : [],
    };
  });
}

/** Payload runs: about one in five produces a value no store can hold. */
export function payloadPlans(rng: Rng, runs: number, badShare = 0.2): RunPlan[] {
  return Array.from({ length: runs }, (_, n) => {
    if (rng.next() >= badShare) return { agent: "faults.payload", input: { n }, expect: [] };
    return {
      agent: "faults.payload",
      input: { n, bad: rng.pick(BAD_PAYLOADS), where: rng.pick(BAD_PLACES) },
      expect: ["FLOTILLA_PAYLOAD_REJECTED"],
    };
  });
}

/** Orders, each one unit of work for two tools under the same key. */
export function orderPlans(runs: number): RunPlan[] {
  return Array.from({ length: runs }, (_, id) => ({
    agent: "faults.order",
    input: { id, together: id % 2 === 0 },
    expect: [],
  }));
}
