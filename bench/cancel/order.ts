import { text, type Json } from "../../src/core/json.js";
import type { JournalEvent } from "../../src/store/types.js";

/**
 * What a cancelled run and its children journaled after the run's cancel
 * request, in the store's own order (event ids are store-wide and
 * increasing): children spawned, and effect intents by key. An intent is
 * refused once its own run's request is durable; a child's request comes
 * only when its parent's cancellation asks for it, so these show what the
 * tree started in between.
 */
export function journaledAfterRequest(
  rootId: string,
  journals: ReadonlyMap<string, readonly JournalEvent[]>,
): { spawned: string[]; intents: Set<string> } {
  const requested = journals.get(rootId)?.find((e) => e.type === "run.cancel-requested")?.id;
  const out = { spawned: [] as string[], intents: new Set<string>() };
  if (requested === undefined) return out;
  for (const [id, journal] of journals)
    for (const e of journal) {
      if (e.id <= requested) continue;
      const d = e.data as Record<string, Json> | null;
      if (id === rootId && e.type === "child.spawned") out.spawned.push(text(d?.childId ?? ""));
      if (e.type === "effect.intent") out.intents.add(text(d?.key ?? ""));
    }
  return out;
}
