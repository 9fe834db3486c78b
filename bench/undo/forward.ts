import { text, type Json } from "../../src/core/json.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import type { JournalEvent, Store } from "../../src/store/types.js";
import { defineFanout } from "./tools.js";

/** One tool call a run performed, as its journal holds it. */
export interface PerformedCall {
  tool: string;
  /** The effect's idempotency key: the sim's ledger records it with the effect. */
  key: string;
  args: Json;
  result: Json;
}

export interface ForwardRun {
  runId: string;
  /** In the order their outcomes were journaled: what a script's log of calls would hold. */
  calls: PerformedCall[];
}

function dataOf(e: JournalEvent): Record<string, Json> {
  return e.data !== null && typeof e.data === "object" && !Array.isArray(e.data) ? e.data : {};
}

/** The calls one run performed, oldest first, from its journal. */
export async function performedCalls(store: Store, runId: string): Promise<PerformedCall[]> {
  const intents = new Map<string, Record<string, Json>>();
  const calls: PerformedCall[] = [];
  for (const e of await store.readJournal(runId)) {
    if (!e.step) continue;
    const d = dataOf(e);
    if (e.type === "effect.intent") intents.set(e.step, d);
    if (e.type !== "effect.committed" || d.dedupedFrom !== undefined) continue;
    const intent = intents.get(e.step);
    if (!intent) continue;
    calls.push({
      tool: text(intent.name),
      key: text(intent.key),
      args: intent.args ?? null,
      result: d.value ?? null,
    });
  }
  return calls;
}

/**
 * Builds one world to undo: `runs` fan-out runs against the simulated
 * services at `toolsUrl` (faults off), executed by an in-process worker on
 * `store`, which is then closed so only the undo's workers touch it.
 */
export async function forwardPhase(
  store: string,
  toolsUrl: string,
  runs: number,
  onRun?: () => void,
): Promise<ForwardRun[]> {
  const flotilla = await Flotilla.open({ store, worker: { concurrency: 16, pollMs: 20 } });
  try {
    const fanout = defineFanout(flotilla, toolsUrl);
    const handles = await Promise.all(
      Array.from({ length: runs }, (_, n) =>
        flotilla.start(fanout, { n }, { idempotencyKey: `fanout:${n}` }),
      ),
    );
    for (const h of handles) {
      await h.result();
      onRun?.();
    }
    const out: ForwardRun[] = [];
    for (const h of handles)
      out.push({ runId: h.id, calls: await performedCalls(flotilla.store, h.id) });
    return out;
  } finally {
    await flotilla.close();
  }
}
