import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRng } from "../../src/core/rng.js";
import { startSimTools, type CatalogEntry, type SimTools } from "../../src/sim/index.js";
import { askAgain, flotillaColumn, naiveColumn, type Crashes } from "./columns.js";
import { startFaultProxy, type FaultProxy, type UndoFaults } from "./faultProxy.js";
import { forwardPhase, type ForwardRun } from "./forward.js";
import { fatesFromLedger, type EffectFate } from "./ledger.js";
import { scoreFlotilla, scoreNaive } from "./score.js";

export { undoReport } from "./report.js";

export interface UndoBenchOptions {
  seed: number;
  /** 20 runs and fewer crashes instead of 200. */
  quick?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Effects per run: 3 irreversible, 2 inverses with side effects, 7 clean inverses. */
const EFFECTS_PER_RUN = 12;
/** The same for both columns, during undo only. */
const FAULTS: UndoFaults = { errorRate: 0.15, lostAfterCommitRate: 0.03 };
/** Each undo process is SIGKILLed this long after it is ready, until the cap. */
const LIFETIME_MS = { min: 100, max: 1_500 };
const LEASE_MS = 800;

interface World {
  sim: SimTools;
  proxy: FaultProxy;
  runs: ForwardRun[];
  /** The ledger's last forward effect: later entries are the undo's. */
  forwardEnd: number;
}

/** One simulated world, its forward phase run by Flotilla on `store`, faults then armed. */
async function buildWorld(
  seed: number,
  store: string,
  runs: number,
  tick: () => void,
): Promise<World> {
  const sim = await startSimTools({ seed });
  const proxy = await startFaultProxy(sim.url, seed);
  const forward = await forwardPhase(store, proxy.url, runs, tick);
  const forwardEnd = sim.effects().length;
  if (forwardEnd !== runs * EFFECTS_PER_RUN || sim.duplicates().length > 0)
    throw new Error(
      `the forward phase left ${forwardEnd} effects (${sim.duplicates().length} duplicated) instead of ${runs * EFFECTS_PER_RUN}: the worlds to undo are not as designed`,
    );
  proxy.arm(FAULTS);
  return { sim, proxy, runs: forward, forwardEnd };
}

async function closeWorld(w: World | undefined): Promise<void> {
  await w?.proxy.close();
  await w?.sim.close();
}

function fates(w: World, catalog: ReadonlyMap<string, CatalogEntry>): EffectFate[] {
  const { fates: out, unaccounted } = fatesFromLedger(
    w.sim.effects(),
    w.forwardEnd,
    catalog,
    w.runs,
  );
  if (unaccounted > 0)
    throw new Error(`${unaccounted} forward effects in the ledger match no run's journal`);
  return out;
}

/**
 * Flotilla's column, scored on the world as the first ask left it; then the
 * runs whose undo did not complete are asked again (no crashes), and the
 * world scored again (`askedAgain`).
 */
async function flotillaSide(
  world: World,
  store: string,
  catalog: ReadonlyMap<string, CatalogEntry>,
  crashes: Crashes,
  onDone: (n: number) => void,
) {
  const runs = world.runs.length;
  const first = await flotillaColumn(store, world.proxy.url, world.runs, crashes, LEASE_MS, onDone);
  const firstAsk = scoreFlotilla(
    fates(world, catalog),
    first.reports,
    first.errors,
    runs,
    first.crashes,
    first.wallMs,
  );
  const faultsMet = world.proxy.counts();
  const incomplete = world.runs
    .map((r) => r.runId)
    .filter((id) => !first.reports.get(id)?.complete);
  const started = performance.now();
  const again = await askAgain(store, world.proxy.url, incomplete, LEASE_MS);
  const reports = new Map([...first.reports, ...again.reports]);
  const errors = new Map([...first.errors].filter(([id]) => !again.reports.has(id)));
  for (const [id, e] of again.errors) errors.set(id, e);
  const { crashesInjected: _c, ...afterAgain } = scoreFlotilla(
    fates(world, catalog),
    reports,
    errors,
    runs,
    0,
    performance.now() - started,
  );
  return { ...firstAsk, faultsMet, askedAgain: { asked: incomplete.length, ...afterAgain } };
}

/**
 * Issue 14's undo evidence: the post's 12-call fan-out, `runs` times, in two
 * identical simulated worlds (same seed, same forward runs); then every run
 * undone in one world by a naive reverse-order script and in the other by
 * `flotilla.undo`, both meeting the same rates of tool errors and lost
 * answers, both in processes SIGKILLed at random moments (the script rerun
 * from the top, Flotilla's workers replaced). Every figure is read from the
 * simulated services' own ledger, never from what a column claims.
 */
export async function undoBench(options: UndoBenchOptions): Promise<Record<string, unknown>> {
  const runs = options.quick ? 20 : 200;
  const maxKills = options.quick ? 6 : 40;
  const total = 4 * runs;
  let done = 0;
  const tick = (label: string) => () => options.onProgress?.(++done, total, label);
  const crashes = (stream: string): Crashes => ({
    rng: createRng(options.seed ^ (stream === "naive" ? 0x5eed : 0xf10)),
    lifetimeMs: LIFETIME_MS,
    maxKills,
  });
  const dir = mkdtempSync(join(tmpdir(), "flotilla-undo-"));
  const started = performance.now();
  let naiveWorld: World | undefined;
  let flotillaWorld: World | undefined;
  try {
    naiveWorld = await buildWorld(options.seed, join(dir, "naive.db"), runs, tick("forward runs"));
    const flotillaStore = join(dir, "flotilla.db");
    flotillaWorld = await buildWorld(options.seed, flotillaStore, runs, tick("forward runs"));
    const catalog = new Map(naiveWorld.sim.catalog().map((c) => [c.operation, c]));

    const base = done;
    const naive = await naiveColumn(
      naiveWorld.proxy.url,
      naiveWorld.runs,
      dir,
      crashes("naive"),
      (n) => options.onProgress?.((done = base + n), total, "naive undos"),
    );
    const mid = done;
    const flotilla = await flotillaSide(
      flotillaWorld,
      flotillaStore,
      catalog,
      crashes("flotilla"),
      (n) => options.onProgress?.((done = mid + n), total, "flotilla undos"),
    );
    return {
      seed: options.seed,
      runs,
      effectsPerRun: EFFECTS_PER_RUN,
      faults: FAULTS,
      crashes: { lifetimeMs: LIFETIME_MS, maxKillsPerColumn: maxKills },
      naive: {
        ...scoreNaive(fates(naiveWorld, catalog), naive.reports, runs, naive.crashes, naive.wallMs),
        faultsMet: naiveWorld.proxy.counts(),
      },
      flotilla,
      wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await closeWorld(naiveWorld);
    await closeWorld(flotillaWorld);
    rmSync(dir, { recursive: true, force: true });
  }
}
