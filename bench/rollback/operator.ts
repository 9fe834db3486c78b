import { APPROVE_SQL, type Flotilla } from "../../src/index.js";

/**
 * The operator on call during a code freeze: answers every approval a run
 * asks for (its tool's preview step, journaled just before it waits) with
 * a denial. Resolves to the denials sent once `done()` holds.
 */
export async function denyEverything(
  f: Flotilla,
  runs: () => readonly string[],
  previews: readonly string[],
  done: () => boolean,
): Promise<number> {
  const sent = new Map<string, number>();
  let total = 0;
  while (!done()) {
    for (const id of runs()) {
      const journal = await f.store.readJournal(id);
      const asked = journal.filter(
        (e) =>
          e.type === "step.completed" &&
          previews.includes(String((e.data as { name?: unknown }).name)),
      ).length;
      for (let n = sent.get(id) ?? 0; n < asked; n++) {
        await f.signal(id, APPROVE_SQL, {
          approved: false,
          reason: "code freeze: no destructive statements",
        });
        sent.set(id, n + 1);
        total++;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return total;
}
