import type { ChildProcess } from "node:child_process";
import type { Rng } from "../../src/core/rng.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { regionState } from "../../src/state/outside.js";
import type { StateHistoryEntry } from "../../src/store/stateTypes.js";
import type { JournalEvent, Store } from "../../src/store/types.js";
import { defineAgents, REGIONS } from "./agents.js";
import { kill, scriptBeside, startProcess } from "../support/processes.js";
import { KINDS, score, type Kind, type Score } from "./workload.js";

const workerScript = scriptBeside(import.meta.url, "worker");

export interface CrashOptions {
  agents: number;
  updates: number;
  thinkMs: number;
  kills: number;
  rng: Rng;
  onKill?: () => void;
}

export interface CrashResult {
  kills: number;
  runs: number;
  runsCompleted: number;
  updates: number;
  lostUpdates: number;
  appliedTwice: number;
  /**
   * Writes a kill cut off from their journal event (committed in the store,
   * the step's event lost with the process): the next execution found each
   * one's result in the store instead of writing it again.
   */
  writesRecoveredFromStore: number;
  byKind: Record<Kind, Score>;
  ms: number;
}

function startWorker(store: string, leaseMs: number, concurrency: number): Promise<ChildProcess> {
  return startProcess(workerScript, [store, String(leaseMs), String(concurrency)]);
}

async function unsettled(store: Store, ids: readonly string[]): Promise<number> {
  let n = 0;
  for (const id of ids) {
    const run = await store.getRun(id);
    if (run && ["pending", "running", "waiting"].includes(run.status)) n++;
  }
  return n;
}

/**
 * Writes whose step was journaled by a later execution than the one that
 * wrote them: a `run.resumed` after the write, before the step's event.
 */
async function recoveredWrites(
  store: Store,
  history: readonly StateHistoryEntry[],
): Promise<number> {
  const journals = new Map<string, JournalEvent[]>();
  let n = 0;
  for (const h of history) {
    const runId = h.by.runId;
    if (!runId || !h.by.step) continue;
    let journal = journals.get(runId);
    if (!journal) journals.set(runId, (journal = await store.readJournal(runId)));
    const completed = journal.findIndex((e) => e.type === "step.completed" && e.step === h.by.step);
    if (completed < 0) continue;
    if (journal.slice(0, completed).some((e) => e.type === "run.resumed" && e.at > h.by.at)) n++;
  }
  return n;
}

/**
 * 20 runs write every kind from worker processes that are SIGKILLed at
 * random moments and started again (one at a time on SQLite, which allows
 * one worker process per file; two lanes at once on PostgreSQL); then the
 * final values are scored against every update's mark.
 */
export async function crashVariant(store: string, o: CrashOptions): Promise<CrashResult> {
  const postgres = store.startsWith("postgres");
  const leaseMs = postgres ? 1_000 : 30_000;
  const concurrency = postgres ? Math.ceil(o.agents / 2) : o.agents;
  const client = await Flotilla.open({ store, worker: false });
  const t0 = performance.now();
  try {
    const defs = defineAgents(client);
    const key = `crash-${Math.floor(o.rng.next() * 1e9)}`;
    const ids: string[] = [];
    for (let agent = 0; agent < o.agents; agent++)
      ids.push(
        (
          await client.start(defs.updater, {
            kinds: [...KINDS],
            key,
            agent,
            updates: o.updates,
            thinkMs: o.thinkMs,
          })
        ).id,
      );
    let kills = 0;
    let planned = 0;
    const lane = async () => {
      while (planned < o.kills && (await unsettled(client.store, ids)) > 0) {
        planned++;
        const child = await startWorker(store, leaseMs, concurrency);
        // A dead PostgreSQL worker's runs wait for its lease: give the survivors time to take them.
        await new Promise((r) =>
          setTimeout(r, 100 + Math.floor(o.rng.next() * (postgres ? 1_500 : 800))),
        );
        await kill(child);
        kills++;
        o.onKill?.();
      }
    };
    await Promise.all(Array.from({ length: postgres ? 2 : 1 }, lane));
    const finisher = await startWorker(store, leaseMs, o.agents);
    const deadline = Date.now() + 120_000;
    while ((await unsettled(client.store, ids)) > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await kill(finisher);
    let completed = 0;
    for (const id of ids) if ((await client.store.getRun(id))?.status === "completed") completed++;
    const byKind = {} as Record<Kind, Score>;
    let recovered = 0;
    for (const kind of KINDS) {
      const history = await regionState(client, REGIONS[kind]).history(key);
      recovered += await recoveredWrites(client.store, history);
    }
    for (const kind of KINDS)
      byKind[kind] = score(
        kind,
        (await regionState(client, REGIONS[kind]).read(key))?.value,
        o.agents,
        o.updates,
      );
    const all = Object.values(byKind);
    return {
      kills,
      runs: ids.length,
      runsCompleted: completed,
      updates: o.agents * o.updates * KINDS.length,
      lostUpdates: all.reduce((s, k) => s + k.lostUpdates, 0),
      appliedTwice: all.reduce((s, k) => s + k.appliedTwice, 0),
      writesRecoveredFromStore: recovered,
      byKind,
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    await client.close();
  }
}
