import type { Json } from "../../src/core/json.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import { regionState } from "../../src/state/outside.js";
import { REGIONS, type defineAgents } from "./agents.js";
import type { Kind } from "./workload.js";

type Agents = ReturnType<typeof defineAgents>;

const RESULT_MS = 300_000;

/** `agents` Flotilla runs of `updates` ctx.state writes each on one key; the final value and the time taken. */
export async function flotillaUpdates(
  f: Flotilla,
  defs: Agents,
  kind: Kind,
  key: string,
  agents: number,
  updates: number,
  thinkMs: number,
): Promise<{ value: Json | undefined; ms: number }> {
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: agents }, (_, agent) =>
      f.start(defs.updater, { kinds: [kind], key, agent, updates, thinkMs }),
    ),
  );
  await Promise.all(runs.map((r) => r.result({ timeoutMs: RESULT_MS })));
  const ms = performance.now() - t0;
  return { value: (await regionState(f, REGIONS[kind]).read(key))?.value, ms };
}

/** Puts `ids` in the claim region, then `agents` runs take and finish them all; who took what, and the time. */
export async function flotillaClaims(
  f: Flotilla,
  defs: Agents,
  ids: string[],
  agents: number,
  thinkMs: number,
): Promise<{ ledger: string[][]; ms: number }> {
  await regionState(f, REGIONS.jobs, { actor: "bench" }).put(ids.map((id) => ({ id, value: id })));
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: agents }, () => f.start(defs.taker, { thinkMs })),
  );
  const ledger = await Promise.all(runs.map((r) => r.result({ timeoutMs: RESULT_MS })));
  return { ledger, ms: performance.now() - t0 };
}

/** Items taken by more than one agent, and items nobody took, from the agents' own ledgers. */
export function tallyClaims(
  ids: string[],
  ledger: string[][],
): { takenTwice: number; neverTaken: number } {
  const times = new Map<string, number>();
  for (const taken of ledger) for (const id of taken) times.set(id, (times.get(id) ?? 0) + 1);
  return {
    takenTwice: [...times.values()].filter((n) => n > 1).length,
    neverTaken: ids.filter((id) => !times.has(id)).length,
  };
}
