import { cancelBench } from "../../../bench/cancel/index.js";
import { consistencyBench, consistencyReport } from "../../../bench/consistency/index.js";
import { crashBench } from "../../../bench/crash/index.js";
import { faultsBench } from "../../../bench/faults/index.js";
import { fleetBench } from "../../../bench/fleet/index.js";
import { fleetReport, type FleetReport } from "../../../bench/fleet/report.js";
import { journalBench, journalReport, type JournalReport } from "../../../bench/journal/index.js";
import { redisSkipReason, redisUrl } from "../../../bench/support/redis.js";
import { retryBench } from "../../../bench/retry.js";
import { rollbackBench, rollbackReport } from "../../../bench/rollback/index.js";
import { runawayBench, runawayReport, type RunawayReport } from "../../../bench/runaway/index.js";
import { undoBench, undoReport } from "../../../bench/undo/index.js";
import { stateBench, stateReport } from "../../../bench/state/index.js";
import { freshDatabase, postgresSkipReason } from "../../../bench/support/postgres.js";
import { vectorBench, type VectorBenchResult } from "../../../bench/vector/index.js";
import { vectorReport } from "../../../bench/vector/report.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { printJson, printLine } from "../output.js";
import { progressBar, type Progress } from "../progress.js";

interface BenchOptions {
  json?: boolean;
  quick?: boolean;
  seed?: string;
  store?: string;
}

type Bench = (
  o: BenchOptions,
  postgresUrl: string | undefined,
  onProgress: Progress,
) => Promise<Record<string, unknown>>;

const BENCHES: Record<
  string,
  { usesPostgres: boolean; run: Bench; report?: (result: Record<string, unknown>) => string }
> = {
  cancel: {
    usesPostgres: true,
    // Cancels on SQLite and on a fresh database of the test server (DATABASE_URL or PG*).
    run: (o, postgresUrl, onProgress) =>
      cancelBench({
        seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed),
        ...(o.quick ? { quick: true } : {}),
        ...(postgresUrl ? { postgresUrl } : {}),
        onProgress,
      }),
  },
  consistency: {
    usesPostgres: false,
    // Naive fan-out beside ctx.decide + ctx.reconcile, on the simulated provider and SQLite.
    run: (o, _pg, onProgress) =>
      consistencyBench({
        seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed),
        ...(o.quick ? { quick: true } : {}),
        onProgress,
      }),
    report: consistencyReport,
  },
  crash: {
    usesPostgres: true,
    run: (o, postgresUrl, onProgress) =>
      crashBench({
        seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed),
        kills: o.quick ? { sqlite: 8, postgres: 12 } : { sqlite: 80, postgres: 130 },
        ...(postgresUrl ? { postgresUrl } : {}),
        onProgress,
      }),
  },
  faults: {
    usesPostgres: true,
    // Each scenario gets a fresh database of its own on the test server (DATABASE_URL or PG*).
    run: (o, postgresUrl, onProgress) =>
      faultsBench({
        seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed),
        ...(o.quick ? { quick: true } : {}),
        ...(postgresUrl ? { newDatabase: freshDatabase } : {}),
        onProgress,
      }),
  },
  fleet: {
    usesPostgres: true,
    run: async (o, postgresUrl, onProgress) => {
      const redisProblem = await redisSkipReason();
      return fleetBench({
        ...(o.quick ? { quick: true } : {}),
        ...(postgresUrl ? { postgresUrl } : {}),
        ...(redisProblem ? {} : { redisUrl: redisUrl() }),
        onProgress,
      });
    },
    report: (result) => fleetReport(result as FleetReport),
  },
  journal: {
    usesPostgres: true,
    // Each measure gets a fresh database of its own on the test server (DATABASE_URL or PG*).
    run: (o, postgresUrl, onProgress) =>
      journalBench({
        ...(o.quick ? { quick: true } : {}),
        ...(postgresUrl ? { newDatabase: freshDatabase } : {}),
        onProgress,
      }),
    report: (result) => journalReport(result as JournalReport),
  },
  retry: {
    usesPostgres: false,
    run: (o, _pg, onProgress) =>
      retryBench({
        ...(o.quick ? { quick: true } : {}),
        ...(o.seed !== undefined ? { seed: Number(o.seed) } : {}),
        onProgress,
      }),
  },
  rollback: {
    usesPostgres: true,
    // Agents write through the SQL tool on SQLite and on a fresh database of the test server.
    run: (o, postgresUrl, onProgress) =>
      rollbackBench({
        seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed),
        ...(o.quick ? { quick: true } : {}),
        ...(postgresUrl ? { postgresUrl } : {}),
        onProgress,
      }),
    report: rollbackReport,
  },
  runaway: {
    usesPostgres: false,
    run: (o, _pg, onProgress) => runawayBench({ ...(o.quick ? { quick: true } : {}), onProgress }),
    report: (result) => runawayReport(result as RunawayReport),
  },
  state: {
    usesPostgres: true,
    // Naive read-modify-write beside ctx.state on SQLite and a fresh database of the test server.
    run: (o, postgresUrl, onProgress) =>
      stateBench({
        seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed),
        ...(o.quick ? { quick: true } : {}),
        ...(postgresUrl ? { postgresUrl } : {}),
        onProgress,
      }),
    report: stateReport,
  },
  undo: {
    usesPostgres: false,
    run: (o, _pg, onProgress) =>
      undoBench({
        seed: o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(o.seed),
        ...(o.quick ? { quick: true } : {}),
        onProgress,
      }),
    report: undoReport,
  },
  vector: {
    usesPostgres: false,
    run: (o, _pg, onProgress) => vectorBench({ ...(o.quick ? { quick: true } : {}), onProgress }),
    report: (result) => vectorReport(result as VectorBenchResult),
  },
};

export async function benchCommand(name: string, opts: BenchOptions): Promise<void> {
  const bench = BENCHES[name];
  if (!bench)
    throw new InvalidArgumentError(
      `unknown benchmark '${name}'; choose one of ${Object.keys(BENCHES).join(", ")}`,
    );
  if (opts.seed !== undefined && !/^\d+$/.test(opts.seed))
    throw new InvalidArgumentError(
      `--seed must be a non-negative integer, received '${opts.seed}'`,
    );
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let postgresNote: string | undefined;
  if (bench.usesPostgres) {
    if (opts.store?.startsWith("postgres")) db = { url: opts.store, drop: () => Promise.resolve() };
    else {
      postgresNote = await postgresSkipReason();
      if (!postgresNote) db = await freshDatabase();
    }
  }
  const bar = progressBar();
  try {
    const result = await bench.run(opts, db?.url, bar.update);
    if (postgresNote) result.postgres = { skipped: postgresNote };
    bar.stop();
    if (opts.json) printJson(result);
    else printLine(bench.report?.(result) ?? JSON.stringify(result, null, 2));
  } finally {
    bar.stop();
    await db?.drop();
  }
}
