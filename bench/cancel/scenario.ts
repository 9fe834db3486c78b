import { setTimeout as sleep } from "node:timers/promises";
import { rngFor } from "../../src/core/rng.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { openStore } from "../../src/store/open.js";
import { isTerminal, type Store } from "../../src/store/types.js";
import { defineAgents, drawPlan, typicalMs } from "./agents.js";
import { Canceller } from "./crossProcess.js";
import { recordCancelRequests } from "./durable.js";
import { ToolProbe } from "./probe.js";
import { emptyTally, judge, type CancelRecord, type Tally } from "./verdict.js";
import { World } from "./world.js";

export interface ScenarioOptions {
  store: string;
  /** Names the store in seeds derived per run. */
  label: string;
  dir: string;
  seed: number;
  /** Cancels that must take (runs that end first do not count). */
  cancels: number;
  /** Runs in flight at once. */
  lanes: number;
  onCancel: () => void;
}

export interface ScenarioResult {
  tally: Tally;
  runs: number;
  inProcess: number;
  crossProcess: number;
  /** Cancels refused because the run had ended (or ended while the request was made). */
  endedFirst: number;
  /** Cancels refused for any other reason (a timeout): each is a failure. */
  cancelsFailed: number;
}

/** cancel()'s refusals of a run that ended first: before the request, or before it took effect. */
const ENDED_FIRST = /already (completed|failed|dead-lettered)|before the cancel took effect/;

/** How long a cancelled run, its children and their tools may take to stop before it counts as not settled. */
const SETTLE_MS = 20_000;

async function settled(store: Store, probe: ToolProbe, runId: string): Promise<boolean> {
  const until = Date.now() + SETTLE_MS;
  while (Date.now() < until) {
    const runs = [await store.getRun(runId), ...(await store.listRuns({ parentId: runId }))];
    const tree = new Set(runs.map((r) => r?.id ?? ""));
    const idle = probe.ofRuns(tree).every((i) => i.endedAt !== undefined);
    if (idle && runs.every((r) => r && isTerminal(r.status))) return true;
    await sleep(50);
  }
  return false;
}

/**
 * Runs root agents on one store and cancels each at a random point of its
 * typical duration, half from this process and half from a second one, then
 * judges every cancel that took against the world's ledgers.
 */
export async function cancelScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const world = await World.start(o.dir, o.seed);
  const store = await openStore(o.store, { poolSize: 32 });
  const durable = recordCancelRequests(store);
  const probe = new ToolProbe();
  const flotilla = await Flotilla.open({ store, worker: { concurrency: 64 } });
  let canceller: Canceller | undefined;
  try {
    const root = defineAgents(flotilla, world.defineTools(flotilla, probe));
    canceller = await Canceller.start(o.store);
    const remote = canceller;
    const records: { record: CancelRecord; settled: boolean }[] = [];
    let next = 0;
    let taken = 0;
    let pending = 0;
    const lane = async () => {
      // A lane starts a run only while the cancels taken and pending fall short of the target.
      while (taken + pending < o.cancels) {
        const n = next++;
        pending++;
        const rng = rngFor(o.seed, o.label, n);
        const plan = drawPlan(rng, n);
        const waitMs = Math.floor(rng.next() * 0.9 * typicalMs(plan));
        const crossProcess = rng.next() < 0.5;
        const run = await flotilla.start(root, plan);
        await sleep(waitMs);
        let record: CancelRecord;
        if (crossProcess) {
          const { error, durableAt, ...r } = await remote.cancel(run.id);
          record = {
            ...r,
            crossProcess,
            durableAt,
            ...(error !== undefined ? { refused: error } : {}),
          };
        } else {
          const calledAt = Date.now();
          const refused = await flotilla.cancel(run.id).then(
            () => undefined,
            (err: unknown) => (err instanceof Error ? err.message : String(err)),
          );
          record = {
            runId: run.id,
            crossProcess,
            calledAt,
            durableAt: durable.get(run.id),
            returnedAt: Date.now(),
            ...(refused !== undefined ? { refused } : {}),
          };
        }
        pending--;
        if (record.refused === undefined) {
          taken++;
          o.onCancel();
        }
        records.push({ record, settled: await settled(store, probe, run.id) });
      }
    };
    // Every lane stops before anything is closed, even when one fails.
    const lanes = await Promise.allSettled(Array.from({ length: o.lanes }, lane));
    for (const l of lanes) if (l.status === "rejected") throw l.reason;
    const tally = emptyTally();
    const truth = { effects: world.effects(), ticketCancels: world.ticketCancels() };
    for (const { record, settled } of records)
      if (record.refused === undefined) await judge(store, truth, probe, record, tally, settled);
    const took = records.filter((r) => r.record.refused === undefined);
    return {
      tally,
      runs: records.length,
      inProcess: took.filter((r) => !r.record.crossProcess).length,
      crossProcess: took.filter((r) => r.record.crossProcess).length,
      endedFirst: records.filter((r) => ENDED_FIRST.test(r.record.refused ?? "")).length,
      cancelsFailed: records.filter(
        (r) => r.record.refused !== undefined && !ENDED_FIRST.test(r.record.refused),
      ).length,
    };
  } finally {
    await canceller?.close();
    await flotilla.close();
    await store.close();
    await world.close();
  }
}
