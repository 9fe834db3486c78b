import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import type { Store } from "../../src/store/types.js";
import { createRng, type Rng } from "../../src/core/rng.js";
import { KEYED_TOOLS, UNKEYED_TOOLS, randomProvider, setupCrashAgents } from "./agents.js";
import { kill, scriptBeside, startProcess } from "../support/processes.js";
import { RecordingToolService } from "./toolService.js";

export interface CrashBenchOptions {
  seed: number;
  /** Kills to inflict on each store. */
  kills: { sqlite: number; postgres: number };
  /** PostgreSQL URL to a database the benchmark may fill; omitted: PostgreSQL is not measured. */
  postgresUrl?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface CrashCounts {
  kills: number;
  runs: number;
  completed: number;
  parked: number;
  failed: number;
  duplicateEffects: number;
  blindReexecutions: number;
  unknownSurfaced: number;
  replayMismatches: number;
  effectsPerformed: number;
}

const workerScript = scriptBeside(import.meta.url, "worker");
const WAVE = 24;

function startWorker(store: string, serviceUrl: string, leaseMs: number): Promise<ChildProcess> {
  return startProcess(workerScript, [store, serviceUrl, String(leaseMs)]);
}

async function unsettled(store: Store): Promise<number> {
  let n = 0;
  for (const status of ["pending", "running", "waiting"] as const)
    n += (await store.listRuns({ status, limit: 100_000 })).length;
  return n;
}

/** Kills workers at random moments while runs with effects are in flight, then counts what the world saw. */
async function crashOneStore(
  storeUrl: string,
  lanes: number,
  killTarget: number,
  rng: Rng,
  progress: (kills: number) => void,
): Promise<CrashCounts> {
  const service = new RecordingToolService();
  const serviceUrl = await service.start();
  const leaseMs = 800;
  const client = await Flotilla.open({
    store: storeUrl,
    providers: { default: randomProvider },
    worker: false,
  });
  setupCrashAgents(client, serviceUrl);
  const ticket = client.agentByName("crash.ticket");
  const top: string[] = [];
  // Ticket numbers name the units of work the tool service counts: taken synchronously, so two
  // lanes adding waves at once never give two runs the same unit.
  let nextTicket = 0;
  const addWave = async () => {
    const numbers = Array.from({ length: WAVE }, () => nextTicket++);
    for (const n of numbers) top.push((await client.start(ticket!, { n })).id);
  };
  let kills = 0;
  try {
    await addWave();
    const lane = async () => {
      while (kills < killTarget) {
        const child = await startWorker(storeUrl, serviceUrl, leaseMs);
        // PostgreSQL workers resume a dead peer's runs only when its lease expires: give them time to.
        const spread = storeUrl.startsWith("postgres") ? 1_200 : 400;
        await new Promise((r) => setTimeout(r, 20 + Math.floor(rng.next() * spread)));
        await kill(child);
        kills++;
        progress(kills);
        if ((await unsettled(client.store)) < WAVE / 2) await addWave();
      }
    };
    if (storeUrl.startsWith("postgres")) await Promise.all(Array.from({ length: lanes }, lane));
    else await lane();
    const finisher = await startWorker(storeUrl, serviceUrl, leaseMs);
    const deadline = Date.now() + 120_000;
    while ((await unsettled(client.store)) > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await kill(finisher);
    return await count(client.store, top, kills, service);
  } finally {
    await client.close();
    await service.close();
  }
}

async function count(
  store: Store,
  top: string[],
  kills: number,
  service: RecordingToolService,
): Promise<CrashCounts> {
  const counts: CrashCounts = {
    kills,
    runs: top.length,
    completed: 0,
    parked: 0,
    failed: 0,
    duplicateEffects: service.repeats(KEYED_TOOLS),
    blindReexecutions: service.repeats(UNKEYED_TOOLS),
    unknownSurfaced: 0,
    replayMismatches: 0,
    effectsPerformed: service.performed.length,
  };
  const all = await store.listRuns({ limit: 1_000_000 });
  const topSet = new Set(top);
  for (const run of all) {
    if (run.error?.code === "FLOTILLA_NONDETERMINISM") counts.replayMismatches++;
    const journal = await store.readJournal(run.id);
    const outcomes = new Map<string, number>();
    const unknownSteps = new Set<string>();
    for (const e of journal) {
      if (!e.step) continue;
      if (e.type === "effect.unknown") unknownSteps.add(e.step);
      if (["step.completed", "step.failed", "effect.committed", "effect.failed"].includes(e.type)) {
        outcomes.set(e.step, (outcomes.get(e.step) ?? 0) + 1);
      }
    }
    counts.unknownSurfaced += unknownSteps.size;
    // A step with two outcomes means replay redid a step the journal had settled.
    counts.replayMismatches += [...outcomes.values()].filter((n) => n > 1).length;
    if (!topSet.has(run.id)) continue;
    if (run.status === "completed") counts.completed++;
    else if (run.status === "parked") counts.parked++;
    else counts.failed++;
  }
  return counts;
}

function sum(a: CrashCounts, b: CrashCounts): CrashCounts {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof CrashCounts)[]) out[k] = a[k] + b[k];
  return out;
}

export async function crashBench(options: CrashBenchOptions): Promise<Record<string, unknown>> {
  const rng = createRng(options.seed);
  const total = options.kills.sqlite + (options.postgresUrl ? options.kills.postgres : 0);
  let done = 0;
  const tick = () => options.onProgress?.(++done, total, "workers killed");
  const dir = mkdtempSync(join(tmpdir(), "flotilla-crash-"));
  try {
    const perStore: Record<string, CrashCounts> = {};
    perStore.sqlite = await crashOneStore(
      join(dir, "crash.db"),
      1,
      options.kills.sqlite,
      rng,
      tick,
    );
    if (options.postgresUrl) {
      perStore.postgres = await crashOneStore(
        options.postgresUrl,
        2,
        options.kills.postgres,
        rng,
        tick,
      );
    }
    const totals = Object.values(perStore).reduce(sum);
    return { ...totals, seed: options.seed, stores: perStore };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
