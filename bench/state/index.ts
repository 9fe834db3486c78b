import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRng, type Rng } from "../../src/core/rng.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { defineAgents } from "./agents.js";
import { crashVariant, type CrashResult } from "./crash.js";
import { flotillaClaims, flotillaUpdates, tallyClaims } from "./flotillaRuns.js";
import { naiveClaims, naiveTable, naiveUpdates } from "./naive.js";
import { KINDS, score, type Kind, type Score } from "./workload.js";

export { stateReport } from "./report.js";

export interface StateBenchOptions {
  seed: number;
  /** Fewer crash kills (the update and claim workloads are the issue's, quick or not). */
  quick?: boolean;
  /** A database the benchmark may fill; omitted: PostgreSQL is not measured. */
  postgresUrl?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

const AGENTS = 20;
const UPDATES = 50;
const ITEMS = 1000;
/** Each agent's pause between reading and writing (its model call, in real life), up to this. */
const THINK_MS = 2;

type KindResult = Score & { updatesPerSec: number };

export interface VariantResult {
  updates: number;
  lostUpdates: number;
  appliedTwice: number;
  updatesPerSec: number;
  counter: KindResult;
  union: KindResult;
  append: KindResult;
}

interface ClaimResult {
  items: number;
  takenTwice: number;
  neverTaken: number;
  itemsPerSec: number;
  naive: { takenTwice: number; neverTaken: number };
}

export interface StoreResult {
  naive: VariantResult;
  flotilla: VariantResult;
  claim: ClaimResult;
  crash: CrashResult;
}

function variant(byKind: Record<Kind, KindResult>, ms: number): VariantResult {
  const all = Object.values(byKind);
  const updates = AGENTS * UPDATES * KINDS.length;
  return {
    updates,
    lostUpdates: all.reduce((s, k) => s + k.lostUpdates, 0),
    appliedTwice: all.reduce((s, k) => s + k.appliedTwice, 0),
    updatesPerSec: Math.round(updates / (ms / 1000)),
    ...byKind,
  };
}

/** Worker processes killed per store. */
const kills = (o: StateBenchOptions) => (o.quick ? 2 : 6);
/**
 * The crash variant's agents think longer (up to this, per update), so their
 * runs outlast the kills: a worker takes about a second to start again.
 */
const crashThinkMs = (o: StateBenchOptions) => (o.quick ? 100 : 300);

const perSec = (n: number, ms: number) => Math.round(n / (ms / 1000));

async function oneStore(
  store: string,
  crashStore: string,
  o: StateBenchOptions,
  rng: Rng,
  tick: (label: string) => void,
): Promise<StoreResult> {
  const label = store.startsWith("postgres") ? "postgres" : "sqlite";
  const ids = Array.from({ length: ITEMS }, (_, i) => `job-${String(i).padStart(4, "0")}`);
  const table = await naiveTable(store, AGENTS);
  let naive: VariantResult;
  let naiveClaim: { takenTwice: number; neverTaken: number };
  try {
    const byKind = {} as Record<Kind, KindResult>;
    let total = 0;
    for (const kind of KINDS) {
      const t0 = performance.now();
      const value = await naiveUpdates(table, kind, `naive-${kind}`, AGENTS, UPDATES, THINK_MS);
      const ms = performance.now() - t0;
      total += ms;
      byKind[kind] = {
        ...score(kind, value, AGENTS, UPDATES),
        updatesPerSec: perSec(AGENTS * UPDATES, ms),
      };
      tick(`${label} naive ${kind}`);
    }
    naive = variant(byKind, total);
    naiveClaim = tallyClaims(ids, await naiveClaims(table, ids, AGENTS, THINK_MS));
  } finally {
    await table.close();
  }
  const f = await Flotilla.open({ store, worker: { concurrency: AGENTS, pollMs: 20 } });
  let flotilla: VariantResult;
  let claim: ClaimResult;
  try {
    const defs = defineAgents(f);
    const byKind = {} as Record<Kind, KindResult>;
    let total = 0;
    for (const kind of KINDS) {
      const { value, ms } = await flotillaUpdates(
        f,
        defs,
        kind,
        `flotilla-${kind}`,
        AGENTS,
        UPDATES,
        THINK_MS,
      );
      total += ms;
      byKind[kind] = {
        ...score(kind, value, AGENTS, UPDATES),
        updatesPerSec: perSec(AGENTS * UPDATES, ms),
      };
      tick(`${label} ctx.state ${kind}`);
    }
    flotilla = variant(byKind, total);
    const { ledger, ms } = await flotillaClaims(f, defs, ids, AGENTS, THINK_MS);
    claim = {
      items: ITEMS,
      ...tallyClaims(ids, ledger),
      itemsPerSec: perSec(ITEMS, ms),
      naive: naiveClaim,
    };
    tick(`${label} claims`);
  } finally {
    await f.close();
  }
  const crash = await crashVariant(crashStore, {
    agents: AGENTS,
    updates: UPDATES,
    thinkMs: crashThinkMs(o),
    kills: kills(o),
    rng,
    onKill: () => tick(`${label} worker killed`),
  });
  return { naive, flotilla, claim, crash };
}

/**
 * `flotilla bench state`: 20 agents × 50 updates on one key, for a counter,
 * a set union and an append list, as naive read-modify-write on a plain
 * table of the same database and as 20 Flotilla runs writing through
 * ctx.state; 1000 claim items taken by 20 agents either way; and the
 * ctx.state runs again with their worker processes SIGKILLed. Lost updates
 * and updates applied twice are counted from the final values (every update
 * leaves a unique mark), claims from the agents' own ledgers.
 */
export async function stateBench(o: StateBenchOptions): Promise<Record<string, unknown>> {
  const started = performance.now();
  const rng = createRng(o.seed);
  const stores = o.postgresUrl ? 2 : 1;
  const total = stores * (KINDS.length * 2 + 1 + kills(o));
  let done = 0;
  const tick = (label: string) => o.onProgress?.(++done, total, label);
  const dir = mkdtempSync(join(tmpdir(), "flotilla-state-"));
  try {
    const sqlite = await oneStore(join(dir, "state.db"), join(dir, "crash.db"), o, rng, tick);
    const postgres = o.postgresUrl
      ? await oneStore(o.postgresUrl, o.postgresUrl, o, rng, tick)
      : undefined;
    const results = postgres ? [sqlite, postgres] : [sqlite];
    const summary = (r: StoreResult) => ({ naive: r.naive, flotilla: r.flotilla });
    return {
      agents: AGENTS,
      updatesPerAgent: UPDATES,
      kinds: [...KINDS],
      thinkMs: THINK_MS,
      seed: o.seed,
      sqlite: summary(sqlite),
      ...(postgres ? { postgres: summary(postgres) } : {}),
      claim: {
        items: ITEMS,
        takenTwice: results.reduce((s, r) => s + r.claim.takenTwice, 0),
        neverTaken: results.reduce((s, r) => s + r.claim.neverTaken, 0),
        naive: {
          takenTwice: results.reduce((s, r) => s + r.claim.naive.takenTwice, 0),
          neverTaken: results.reduce((s, r) => s + r.claim.naive.neverTaken, 0),
        },
        sqlite: sqlite.claim,
        ...(postgres ? { postgres: postgres.claim } : {}),
      },
      crash: {
        thinkMs: crashThinkMs(o),
        lostUpdates: results.reduce((s, r) => s + r.crash.lostUpdates, 0),
        appliedTwice: results.reduce((s, r) => s + r.crash.appliedTwice, 0),
        sqlite: sqlite.crash,
        ...(postgres ? { postgres: postgres.crash } : {}),
      },
      wallMs: Math.round(performance.now() - started),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
