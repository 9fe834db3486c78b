import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Json } from "../src/core/json.js";
import { planUndo } from "../src/saga/undoPlan.js";
import type { JournalEvent, RunRecord, Store } from "../src/store/types.js";

/**
 * A run's journal as the runtime writes it: effects that start and end at
 * random moments (some overlapping, as under ctx.all), one child run whose
 * effects happen while its spawn step is open. The plan must undo an effect
 * only after every effect that began once it had ended (which may have used
 * its result), and in the first wave possible.
 */
interface Effect {
  run: string;
  start: number;
  end: number;
}

const effectsArb = fc.array(
  fc.record({ start: fc.nat(50), length: fc.integer({ min: 1, max: 10 }), child: fc.boolean() }),
  { minLength: 1, maxLength: 12 },
);

function world(
  drawn: { start: number; length: number; child: boolean }[],
  spawn: [number, number],
) {
  const journals = new Map<string, JournalEvent[]>([
    ["root", []],
    ["kid", []],
  ]);
  const effects: (Effect & { step: string })[] = [];
  let id = 0;
  const timeline: { at: number; run: string; type: string; step: string; data: Json }[] = [];
  drawn.forEach((d, i) => {
    // A child's effects fall inside its spawn step.
    const run = d.child ? "kid" : "root";
    const lo = d.child ? spawn[0] + 0.5 : 0;
    const hi = d.child ? spawn[1] - 0.5 : 100;
    const start = Math.min(hi - 0.2, lo + (d.start % Math.max(1, hi - lo)));
    const end = Math.min(hi - 0.1, start + d.length);
    const step = `${i}`;
    effects.push({ run, start, end, step });
    const base = { name: "t", key: `${run}:${step}`, effect: "compensable", reversible: true };
    timeline.push({ at: start, run, type: "effect.intent", step, data: base });
    timeline.push({ at: end, run, type: "effect.committed", step, data: { name: "t", value: i } });
  });
  timeline.push({
    at: spawn[0],
    run: "root",
    type: "child.spawned",
    step: "s",
    data: { kind: "spawn", name: "kid", childId: "kid" },
  });
  timeline.push({
    at: spawn[1],
    run: "root",
    type: "step.completed",
    step: "s",
    data: { kind: "spawn", name: "kid", value: null },
  });
  timeline.sort((a, b) => a.at - b.at);
  // What happened before what is the journal's order (ties broken as they were written).
  const order = new Map<string, number>();
  for (const e of timeline) {
    const event = { id: ++id, runId: e.run, type: e.type, step: e.step, data: e.data, at: 0 };
    journals.get(e.run)?.push(event);
    const edge = e.type === "effect.intent" || e.type === "child.spawned" ? "start" : "end";
    order.set(`${e.run}:${e.step}:${edge}`, id);
  }
  const at = (run: string, step: string, edge: string) => order.get(`${run}:${step}:${edge}`) ?? 0;
  for (const e of effects) {
    e.start = at(e.run, e.step, "start");
    e.end = at(e.run, e.step, "end");
  }
  const store = {
    getRun: (runId: string) =>
      Promise.resolve({ id: runId, agent: "a", status: "completed" } as RunRecord),
    readJournal: (runId: string) => Promise.resolve(journals.get(runId) ?? []),
  } as unknown as Store;
  const spawned: [number, number] = [at("root", "s", "start"), at("root", "s", "end")];
  return { store, effects, spawn: spawned };
}

/** b began after a had ended, compared where both are visible: in the root, a child is its spawn step. */
function after(a: Effect, b: Effect, spawn: [number, number]): boolean {
  const span = (e: Effect) => (e.run === "kid" ? { start: spawn[0], end: spawn[1] } : e);
  const [x, y] = a.run === b.run ? [a, b] : [span(a), span(b)];
  return x.end < y.start;
}

describe("undo plan", () => {
  it("undoes each effect after every effect that followed it, in the earliest wave", async () => {
    await fc.assert(
      fc.asyncProperty(
        effectsArb,
        fc.integer({ min: 5, max: 60 }),
        fc.integer({ min: 5, max: 30 }),
        async (drawn, at, length) => {
          const { store, effects, spawn } = world(drawn, [at, at + length]);
          const plan = await planUndo(store, "root");
          assert.equal(plan.effects.length, effects.length);
          const wave = new Map(plan.effects.map((e) => [`${e.runId}:${e.step}`, e.wave]));
          const w = (e: Effect & { step: string }) => wave.get(`${e.run}:${e.step}`) ?? -1;
          for (const a of effects) {
            const later = effects.filter((b) => after(a, b, spawn));
            for (const b of later) assert.ok(w(b) < w(a), "undone before what it preceded");
            assert.equal(w(a), later.length ? Math.max(...later.map(w)) + 1 : 0, "earliest wave");
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
