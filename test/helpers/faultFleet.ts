import assert from "node:assert/strict";
import { FaultyStore, type FaultOptions } from "../../bench/support/faultyStore.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { SqliteStore } from "../../src/store/sqlite/SqliteStore.js";
import type { RunRecord, Store } from "../../src/store/types.js";
import { tempStore } from "./tempStore.js";

/** The seed of a fault test file, printed so a failure can be replayed with FLOTILLA_SEED. */
export const SEED = Number(process.env.FLOTILLA_SEED ?? Math.floor(Math.random() * 2 ** 31));
process.stderr.write(`# fault tests seed ${SEED} (replay with FLOTILLA_SEED=${SEED})\n`);

const TERMINAL = new Set(["completed", "failed", "parked", "dead-lettered", "cancelled"]);

/** Fleets the fault tests run: short leases and polls, so a run abandoned by a fault resumes soon. */
export function openOn(store: Store | string): Promise<Flotilla> {
  return Flotilla.open({
    store,
    worker: { pollMs: 20, leaseMs: 1500, concurrency: 8 },
    stopGraceMs: 300,
  });
}

export async function settleAll(
  f: Flotilla,
  ids: string[],
  timeoutMs: number,
): Promise<RunRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const runs = await Promise.all(ids.map((id) => f.store.getRun(id)));
    if (runs.every((r) => r && TERMINAL.has(r.status)) || Date.now() > until)
      return runs.filter((r): r is RunRecord => r !== undefined);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The world a tool changes, seen from outside Flotilla: how many times each
 * logical unit was performed. `reconcile` asks it, as a real service would be asked.
 */
export class Witness {
  readonly performed = new Map<string, number>();
  perform(unit: string): void {
    this.performed.set(unit, (this.performed.get(unit) ?? 0) + 1);
  }
  repeats(): string[] {
    return [...this.performed].filter(([, n]) => n > 1).map(([u, n]) => `${u}×${n}`);
  }
}

/** Charges each run of `faultedFleet` makes. */
export const CHARGES_PER_RUN = 4;

/**
 * An agent written the way LLM loops are: every failed call is caught and
 * tried again, up to three times. Under store faults a runtime that throws
 * infrastructure errors into steps makes it charge twice.
 */
export function faultedFleet(f: Flotilla, witness: Witness, caught: string[], reconciles = true) {
  const charge = f.tool("payments.charge", {
    effect: "irreversible",
    key: (a: { unit: string }) => `charge:${a.unit}`,
    timeoutMs: 300,
    run: async (a) => {
      witness.perform(`charge:${a.unit}`);
      return { charged: a.unit };
    },
    ...(reconciles
      ? {
          reconcile: async (a: { unit: string }) =>
            witness.performed.has(`charge:${a.unit}`)
              ? { status: "done" as const, result: { charged: a.unit } }
              : { status: "not-done" as const },
        }
      : {}),
  });
  const note = f.tool("crm.note", {
    effect: "idempotent",
    run: async (a: { unit: string }) => `noted ${a.unit}`,
  });
  return f.agent("careful", async (ctx, id: string) => {
    const out: unknown[] = [];
    for (let i = 0; i < CHARGES_PER_RUN; i++) {
      for (let tries = 0; ; tries++) {
        try {
          out.push(await ctx.call(charge, { unit: `${id}-${i}` }));
          out.push(await ctx.call(note, { unit: `${id}-${i}` }));
          out.push(await ctx.now());
          break;
        } catch (err) {
          caught.push((err as { code?: string }).code ?? String(err));
          if (tries >= 2) throw err;
        }
      }
    }
    return out.length;
  });
}

/** What a fleet of `faultedFleet` runs must show after faults: all completed, each charge once, no error seen. */
export function assertUnharmed(
  runs: RunRecord[],
  expected: { runs: number; witness: Witness; caught: string[]; context: string },
): void {
  const { witness, caught, context } = expected;
  assert.equal(runs.length, expected.runs, `every run is in the store (${context})`);
  assert.deepEqual(
    runs.filter((r) => r.status !== "completed").map((r) => `${r.id} ${r.status}`),
    [],
    `every run completes despite store faults (${context})`,
  );
  assert.deepEqual(witness.repeats(), [], `no charge performed twice (${context})`);
  assert.equal(
    witness.performed.size,
    expected.runs * CHARGES_PER_RUN,
    `every charge performed (${context})`,
  );
  assert.deepEqual(caught, [], `agent code saw no infrastructure error (${context})`);
}

/**
 * Twelve runs of `faultedFleet` on `inner` behind a FaultyStore, faults on
 * for 1.5 s once they are started; then every run must settle unharmed.
 */
export async function runUnderFaults(
  options: Omit<FaultOptions, "seed">,
  label: string,
  inner: Store = SqliteStore.open(tempStore()),
  reconciles = true,
): Promise<void> {
  const faulty = new FaultyStore(inner, { ...options, seed: SEED });
  const f = await openOn(faulty.store);
  const witness = new Witness();
  const caught: string[] = [];
  const agent = faultedFleet(f, witness, caught, reconciles);
  try {
    faulty.enabled = false;
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push((await f.start(agent, `r${i}`)).id);
    faulty.enabled = true;
    await new Promise((r) => setTimeout(r, 1500));
    faulty.enabled = false;
    const runs = await settleAll(f, ids, 60_000);
    const context = `${label}, seed ${SEED}, ${faulty.total} faults injected`;
    assert.ok(faulty.total > 0, `no fault was injected (${context})`);
    assertUnharmed(runs, { runs: ids.length, witness, caught, context });
  } finally {
    await f.close();
    await faulty.inner.close();
  }
}

/** `count` pending runs made straight in the store (`batch-0`, …), for commits sent to it directly. */
export async function pendingRuns(store: Store, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `batch-${i}`);
  for (const id of ids)
    await store.createRun({
      id,
      agent: "a",
      input: null,
      idempotencyKey: null,
      tenant: null,
      deadline: null,
      created: {},
    });
  return ids;
}
