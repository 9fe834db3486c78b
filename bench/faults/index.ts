import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sumCounts, ZERO_COUNTS } from "./count.js";
import {
  ambiguousCommit,
  badPayloads,
  connectionDrop,
  lostResponse,
  postgresRestart,
  sharedKeys,
  storeErrors,
} from "./inProcess.js";
import { slowToolTakeover, zombieWorker } from "./processFaults.js";
import type { ScenarioResult, ScenarioSetup } from "./session.js";

type StoreKind = "sqlite" | "postgres";

interface Scenario {
  fault: string;
  stores: readonly StoreKind[];
  /** Brings its own server: needs no database from the shared one. */
  ownServer?: boolean;
  run: (setup: ScenarioSetup) => Promise<ScenarioResult>;
}

const BOTH: readonly StoreKind[] = ["sqlite", "postgres"];

/** In report order. */
export const SCENARIOS: readonly Scenario[] = [
  { fault: "store-errors", stores: BOTH, run: storeErrors },
  { fault: "ambiguous-commit", stores: BOTH, run: ambiguousCommit },
  { fault: "connection-drop", stores: ["postgres"], run: connectionDrop },
  { fault: "postgres-restart", stores: ["postgres"], ownServer: true, run: postgresRestart },
  { fault: "zombie-worker", stores: BOTH, run: zombieWorker },
  { fault: "bad-payloads", stores: BOTH, run: badPayloads },
  { fault: "shared-keys", stores: BOTH, run: sharedKeys },
  { fault: "slow-tool-takeover", stores: BOTH, run: slowToolTakeover },
  { fault: "lost-response", stores: BOTH, run: lostResponse },
];

/** The slowest first, so parallel lanes finish together. */
const SLOW_FIRST = ["zombie-worker", "slow-tool-takeover", "postgres-restart", "connection-drop"];

export interface FaultsBenchOptions {
  seed: number;
  quick?: boolean;
  /** A fresh PostgreSQL database per scenario; omitted: only scenarios that need none run there. */
  newDatabase?: () => Promise<{ url: string; drop: () => Promise<void> }>;
  /** Only these faults (default: all). */
  faults?: readonly string[];
  /** Only these stores (default: both). */
  stores?: readonly StoreKind[];
  /** Scenarios run at once. Default 3: most of their time is spent waiting. */
  parallel?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

/**
 * Drives a mixed fleet against a recording tool service under injected
 * faults, on SQLite and PostgreSQL, and counts what the world saw that the
 * journal does not account for.
 */
export async function faultsBench(options: FaultsBenchOptions): Promise<Record<string, unknown>> {
  const jobs = SCENARIOS.filter((s) => !options.faults || options.faults.includes(s.fault))
    .flatMap((s) => s.stores.map((store) => ({ scenario: s, store })))
    .filter(({ store }) => !options.stores || options.stores.includes(store))
    .filter(
      ({ scenario, store }) => store === "sqlite" || scenario.ownServer || options.newDatabase,
    );
  const order = (fault: string) => {
    const i = SLOW_FIRST.indexOf(fault);
    return i === -1 ? SLOW_FIRST.length : i;
  };
  const queue = [...jobs].sort((a, b) => order(a.scenario.fault) - order(b.scenario.fault));
  const results = new Map<(typeof jobs)[number], ScenarioResult>();
  const dir = mkdtempSync(join(tmpdir(), "flotilla-faults-"));
  let done = 0;
  const lane = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      results.set(job, await runOne(job.scenario, job.store, options, dir));
      options.onProgress?.(++done, jobs.length, `${job.scenario.fault} on ${job.store}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.parallel ?? 3 }, lane));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const scenarios = jobs.map((j) => results.get(j)!);
  const broken = scenarios.filter((s) => s.error !== undefined);
  if (broken.length > 0 && process.env.CI === "true")
    throw new Error(
      `CI=true and ${broken.map((s) => `${s.fault}/${s.store}: ${s.error}`).join("; ")}`,
    );
  const { runs, completed, parked, failed, ...rest } = sumCounts(scenarios);
  return { seed: options.seed, scenarios, totals: { runs, completed, parked, failed, ...rest } };
}

async function runOne(
  scenario: Scenario,
  store: StoreKind,
  options: FaultsBenchOptions,
  dir: string,
): Promise<ScenarioResult> {
  const db = store === "postgres" && !scenario.ownServer ? await options.newDatabase!() : undefined;
  const setup: ScenarioSetup = {
    fault: scenario.fault,
    store,
    storeUrl: db?.url ?? join(dir, `${scenario.fault}.db`),
    seed: options.seed,
    quick: options.quick ?? false,
  };
  try {
    return await scenario.run(setup);
  } catch (err) {
    // One scenario's harness failing must not hide the others' results; it is reported as such.
    return {
      store,
      fault: scenario.fault,
      ...ZERO_COUNTS,
      error: err instanceof Error ? err.message : String(err),
    };
  } finally {
    await db?.drop().catch(() => undefined);
  }
}
