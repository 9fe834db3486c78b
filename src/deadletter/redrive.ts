import { z } from "zod";
import type { Clock } from "../core/clock.js";
import { InvalidArgumentError, NotFoundError, isFlotillaError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import type { Store } from "../store/types.js";
import { BudgetLimitsSchema } from "./budgets.js";
import type { DeadLetterClass } from "./taxonomy.js";
import type { DeadLetter } from "./types.js";
import { parseOptions } from "../core/validate.js";

/** What a redrive may change: the input, the model of new LLM calls, the budget. */
export const RedrivePatchSchema = z.strictObject({
  input: z.unknown().optional(),
  model: z.string().min(1).optional(),
  budget: BudgetLimitsSchema.optional(),
});
export type RedrivePatch = z.infer<typeof RedrivePatchSchema>;

export interface RedriveOptions {
  /** Who asked (journaled). Default "operator". */
  by?: string;
  reason?: string;
  patch?: RedrivePatch;
}

/** Classes a redrive cannot help: their effects need a decision first. */
const NOT_REDRIVABLE: Partial<Record<DeadLetterClass, string>> = {
  "effect-outcome-unknown":
    "its effect's outcome is unknown; decide it with flotilla resolve <runId> <step>",
  "cancelled-with-unsettled-effects":
    "the run was cancelled; check its unsettled effects, then discard the entry",
};

function checkPatch(patch: unknown): RedrivePatch {
  const parsed = parseOptions(RedrivePatchSchema, patch ?? {}, "redrive patch");
  if ("input" in parsed && JSON.stringify(parsed.input) === undefined)
    throw new InvalidArgumentError("redrive patch: input must be JSON-serializable", {
      field: "patch.input",
    });
  return parsed;
}

async function openEntry(store: Store, id: string): Promise<DeadLetter> {
  const entry = await store.getDeadLetter(id);
  if (!entry) throw new NotFoundError("dead letter", id);
  if (entry.status !== "open")
    throw new InvalidArgumentError(`dead letter ${id} is already ${entry.status}`, {
      id,
      status: entry.status,
    });
  return entry;
}

/**
 * Resumes a dead-lettered run from its last checkpoint: the journal stays as
 * it is, so replay returns every recorded step and no effect is repeated; the
 * failures that caused the dead letter are forgotten and run again, with the
 * patch applied. Children dead-lettered under the run's failed steps are
 * redriven first (with the same model and budget patch), so the parent finds
 * them running again. The action is journaled: who, when, why, what changed.
 */
export async function redriveDeadLetter(
  store: Store,
  id: string,
  options: RedriveOptions = {},
  now: () => number = Date.now,
): Promise<DeadLetter> {
  const patch = checkPatch(options.patch);
  const entry = await openEntry(store, id);
  const refusal = NOT_REDRIVABLE[entry.class];
  if (refusal)
    throw new InvalidArgumentError(`dead letter ${id} cannot be redriven: ${refusal}`, {
      id,
      class: entry.class,
    });
  const run = await store.getRun(entry.runId);
  if (run?.status !== "dead-lettered")
    throw new InvalidArgumentError(
      `run ${entry.runId} is ${run?.status ?? "gone"}, not dead-lettered`,
      { id },
    );
  const { input: _input, ...inherited } = patch;
  for (const child of await childrenOfFailedSpawns(store, entry.runId)) {
    const [childEntry] = await store.listDeadLetters({ runId: child, status: "open", limit: 1 });
    if (childEntry)
      await redriveDeadLetter(store, childEntry.id, { ...options, patch: inherited }, now);
  }
  const by = options.by ?? "operator";
  const resolution = {
    action: "redrive",
    by,
    at: now(),
    reason: options.reason ?? null,
    patch: patch as Json,
  };
  await store.commit({
    runId: entry.runId,
    fence: { unleasedIn: ["dead-lettered"] },
    events: [
      { type: "run.redriven", data: { deadLetterId: id, class: entry.class, ...resolution } },
    ],
    status: { status: "pending", error: null, wakeAt: null },
    deadLetterUpdate: { id, status: "redriven", resolution },
  });
  return { ...entry, status: "redriven", resolution };
}

/** Children spawned by the run's failed spawn steps (their failure failed the step). */
export async function childrenOfFailedSpawns(store: Store, runId: string): Promise<string[]> {
  const events = await store.readJournal(runId);
  const failed = new Set(
    events
      .filter((e) => e.type === "step.failed" && (e.data as Record<string, Json>).kind === "spawn")
      .map((e) => e.step),
  );
  return events
    .filter((e) => e.type === "child.spawned" && failed.has(e.step))
    .map((e) => text((e.data as Record<string, Json>).childId));
}

/** Closes an entry without running it again; the reason is journaled. */
export async function discardDeadLetter(
  store: Store,
  id: string,
  options: { by?: string; reason: string },
  now: () => number = Date.now,
): Promise<DeadLetter> {
  if (typeof options.reason !== "string" || options.reason.trim() === "")
    throw new InvalidArgumentError("discarding a dead letter needs a reason", { field: "reason" });
  const entry = await openEntry(store, id);
  const resolution = {
    action: "discard",
    by: options.by ?? "operator",
    at: now(),
    reason: options.reason,
  };
  await store.commit({
    runId: entry.runId,
    fence: { unleasedIn: ["dead-lettered", "parked", "cancelled"] },
    events: [{ type: "dead-letter.discarded", data: { deadLetterId: id, ...resolution } }],
    deadLetterUpdate: { id, status: "discarded", resolution },
  });
  return { ...entry, status: "discarded", resolution };
}

export interface BulkRedriveOptions extends RedriveOptions {
  /** Redrives per second, so a recovered dependency is not flooded. Default 5. */
  perSecond?: number;
  /** At most this many entries. Default 100. */
  limit?: number;
}

/** Redrives the open entries of one class, oldest first, at a bounded rate. */
export async function redriveClass(
  store: Store,
  cls: DeadLetterClass,
  options: BulkRedriveOptions,
  clock: Pick<Clock, "now" | "sleep">,
): Promise<{ redriven: string[]; skipped: { id: string; reason: string }[] }> {
  const perSecond = options.perSecond ?? 5;
  if (!(perSecond > 0))
    throw new InvalidArgumentError(`perSecond must be positive, received ${perSecond}`, {
      field: "perSecond",
    });
  const entries = await store.listDeadLetters({
    class: cls,
    status: "open",
    limit: options.limit ?? 100,
  });
  const out = { redriven: [] as string[], skipped: [] as { id: string; reason: string }[] };
  for (const [i, entry] of entries.reverse().entries()) {
    if (i > 0) await clock.sleep(1000 / perSecond);
    try {
      await redriveDeadLetter(store, entry.id, options, () => clock.now());
      out.redriven.push(entry.id);
    } catch (err) {
      // Entries closed meanwhile (a cascade from a parent) or refused by class are reported, not fatal.
      if (!isFlotillaError(err)) throw err;
      out.skipped.push({ id: entry.id, reason: err.message });
    }
  }
  return out;
}
