import { InvalidArgumentError, NotFoundError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import { isTerminal, type JournalEvent, type Store } from "../store/types.js";
import type { PlannedUndo, UndoAction, UndoPlan } from "./undoTypes.js";

/** The agent that performs undos; its own runs are not undone. */
export const UNDO_AGENT = "flotilla.undo";

/** A planned effect with what its inverse needs: the call's arguments and result. */
export interface PlannedEffect extends PlannedUndo {
  args: Json;
  result: Json;
}

/** Where an effect sits in one run's journal: from its intent to its outcome (event ids). */
interface Span {
  start: number;
  end: number;
  /** Set when the span is a child run's: the items inside it are that child's. */
  child?: string;
}

interface Item {
  effect: PlannedEffect;
  /** Spans from the undone run down to the effect's own, one per run in between. */
  path: Span[];
}

function dataOf(e: JournalEvent): Record<string, Json> {
  return e.data !== null && typeof e.data === "object" && !Array.isArray(e.data) ? e.data : {};
}

/**
 * What happened before what: an effect whose intent was written after
 * another's outcome was durable may depend on its result, so its inverse
 * must run first. Effects that overlapped are independent. Across runs the
 * comparison is made in the closest run both descend from.
 */
function before(a: Item, b: Item): boolean {
  let i = 0;
  while (
    i < a.path.length - 1 &&
    i < b.path.length - 1 &&
    a.path[i]?.child !== undefined &&
    a.path[i]?.child === b.path[i]?.child
  )
    i++;
  return (a.path[i]?.end ?? Infinity) < (b.path[i]?.start ?? -Infinity);
}

function actionOf(settled: "committed" | "unknown", intent: Record<string, Json>): UndoAction {
  if (settled === "unknown") return "check-outcome";
  // Journals written before intents recorded `reversible` still name compensable tools.
  const reversible = intent.reversible === true || intent.effect === "compensable";
  return reversible ? "compensate" : "not-reversible";
}

/** The effects one journal committed (or left unknown), and the children it spawned. */
function effectsOf(
  runId: string,
  events: readonly JournalEvent[],
): { items: { effect: PlannedEffect; span: Span }[]; children: { id: string; span: Span }[] } {
  const intents = new Map<string, JournalEvent>();
  const outcomes = new Map<string, { event: JournalEvent; state: "committed" | "failed" }>();
  const spawned = new Map<string, { id: string; start: number }>();
  const ended = new Map<string, number>();
  for (const e of events) {
    if (!e.step) continue;
    const d = dataOf(e);
    if (e.type === "effect.intent") intents.set(e.step, e);
    else if (e.type === "effect.committed" && d.dedupedFrom === undefined)
      outcomes.set(e.step, { event: e, state: "committed" });
    // A failure that may hide an effect (an idempotent call's lost answer) is not "did nothing".
    else if (e.type === "effect.failed" && d.mayHaveActed === true) outcomes.delete(e.step);
    else if (e.type === "effect.failed") outcomes.set(e.step, { event: e, state: "failed" });
    else if (e.type === "effect.resolved" && d.decision === "committed")
      outcomes.set(e.step, { event: e, state: "committed" });
    else if (e.type === "effect.resolved" && d.decision === "failed")
      outcomes.set(e.step, { event: e, state: "failed" });
    else if (e.type === "child.spawned") spawned.set(e.step, { id: text(d.childId), start: e.id });
    else if ((e.type === "step.completed" || e.type === "step.failed") && d.kind === "spawn")
      ended.set(e.step, e.id);
    else if (e.type === "effect.committed") intents.delete(e.step); // performed by another run
  }
  const items: { effect: PlannedEffect; span: Span }[] = [];
  for (const [step, intent] of intents) {
    const outcome = outcomes.get(step);
    if (outcome?.state === "failed") continue;
    const d = dataOf(intent);
    const settled = outcome ? "committed" : "unknown";
    const action = actionOf(settled, d);
    items.push({
      span: { start: intent.id, end: outcome?.event.id ?? Infinity },
      effect: {
        runId,
        step,
        tool: text(d.name),
        key: text(d.key),
        effect: text(d.effect),
        action,
        ...(typeof d.undoSideEffect === "string" && action !== "not-reversible"
          ? { sideEffect: d.undoSideEffect }
          : {}),
        wave: 0,
        args: d.args ?? null,
        result: outcome ? (dataOf(outcome.event).value ?? null) : null,
      },
    });
  }
  const children = [...spawned].map(([step, c]) => ({
    id: c.id,
    span: { start: c.start, end: ended.get(step) ?? Infinity, child: c.id },
  }));
  return { items, children };
}

/** Orders by where each item starts, run by run down the tree, latest first. */
function latestFirst(a: Item, b: Item): number {
  for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) {
    const d = (b.path[i]?.start ?? 0) - (a.path[i]?.start ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function collect(store: Store, runId: string, path: Span[], out: Item[]): Promise<string[]> {
  const run = await store.getRun(runId);
  if (!run) throw new NotFoundError("run", runId);
  if (!isTerminal(run.status)) {
    throw new InvalidArgumentError(
      `run ${runId} is ${run.status}: only a run that has ended (and its children) can be undone; cancel it first`,
      { runId, status: run.status },
    );
  }
  const { items, children } = effectsOf(runId, await store.readJournal(runId));
  for (const { effect, span } of items) out.push({ effect, path: [...path, span] });
  const runs = [runId];
  for (const c of children) runs.push(...(await collect(store, c.id, [...path, c.span], out)));
  return runs;
}

/**
 * Plans the undo of a run and its descendants from their journals alone:
 * every committed effect (or one whose outcome is unknown), what will be
 * done about it, and in which wave. Wave 0 holds the effects nothing came
 * after; an effect's wave is one more than that of the latest effect that
 * followed it.
 */
export async function planUndo(
  store: Store,
  runId: string,
): Promise<Omit<UndoPlan, "effects"> & { effects: PlannedEffect[] }> {
  const root = await store.getRun(runId);
  if (!root) throw new NotFoundError("run", runId);
  if (root.agent === UNDO_AGENT)
    throw new InvalidArgumentError(`run ${runId} is an undo; it cannot be undone`, { runId });
  const items: Item[] = [];
  const runs = await collect(store, runId, [], items);
  // Latest first: every item that came after this one already has its wave.
  const order = [...items].sort(latestFirst);
  const done: Item[] = [];
  for (const item of order) {
    let wave = 0;
    for (const later of done) if (before(item, later)) wave = Math.max(wave, later.effect.wave + 1);
    item.effect.wave = wave;
    done.push(item);
  }
  const effects = order
    .map((i) => i.effect)
    .sort((a, b) => a.wave - b.wave || a.runId.localeCompare(b.runId));
  return { runId, runs, effects };
}
