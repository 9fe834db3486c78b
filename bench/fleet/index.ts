import { startSimProvider, type SimProvider } from "../../src/sim/index.js";
import { flotillaSide } from "./flotilla.js";
import { naiveSide } from "./naive.js";
import { measureShared, type SharedFigures } from "./shared.js";
import { CallLog, type FleetSide } from "./sides.js";
import { measureSmallJob, type OpenSide } from "./smallJob.js";
import { measureWindow, type WindowFigures } from "./window.js";
import { MODEL, scenario, TENANTS, type Scenario } from "./workload.js";

export interface FleetBenchOptions {
  quick?: boolean;
  /** A PostgreSQL database the shared-limiter run may use; omitted: not measured. */
  postgresUrl?: string;
  /** A Redis server the shared-limiter run may use; omitted: not measured. */
  redisUrl?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** A figure against its target; a miss is reported, never hidden. */
export interface FleetCheck {
  figure: string;
  value: number;
  target: string;
  met: boolean;
}

type Open = (sim: SimProvider, apiKey: string, threads: number, log: CallLog) => Promise<FleetSide>;

/** Runs `open`'s side on a fresh key (the simulator reset: same seed, same latencies in order of arrival). */
async function onFreshKey<T>(
  sim: SimProvider,
  open: Open,
  apiKey: string,
  threads: number,
  measure: (side: FleetSide, log: CallLog) => Promise<T>,
): Promise<T> {
  sim.reset();
  const log = new CallLog();
  const side = await open(sim, apiKey, threads, log);
  try {
    return await measure(side, log);
  } finally {
    await side.close();
  }
}

function checks(
  flotilla: WindowFigures,
  smallJob: { ratio: number; flotilla: { status429: number } },
  shared: SharedFigures[],
): FleetCheck[] {
  const out: FleetCheck[] = [
    {
      figure: "flotilla.goodputOfAdmissible",
      value: flotilla.goodputOfAdmissible,
      target: "≥ 0.9",
      met: flotilla.goodputOfAdmissible >= 0.9,
    },
    {
      figure: "flotilla.status429Share",
      value: flotilla.status429Share,
      target: "≤ 0.01",
      met: flotilla.status429Share <= 0.01,
    },
    {
      figure: "smallJob.flotilla.status429",
      value: smallJob.flotilla.status429,
      target: "0",
      met: smallJob.flotilla.status429 === 0,
    },
    {
      figure: "smallJob.ratio (flotilla / naive wall time)",
      value: smallJob.ratio,
      target: "≤ 1.5",
      met: smallJob.ratio <= 1.5,
    },
  ];
  for (const s of shared)
    out.push({
      figure: `shared.${s.backend}.admittedOverBucket`,
      value: s.admittedOverBucket,
      target: "≤ 1, and no 429",
      met: s.admittedOverBucket <= 1 && s.status429 === 0,
    });
  return out;
}

function describeScenario(s: Scenario) {
  return {
    ...s,
    tenants: TENANTS.length,
    model: MODEL,
    keyBuckets:
      "token buckets holding one minute's worth, full at the start, refilled continuously",
  };
}

/**
 * `flotilla bench fleet`: one simulated key with RPM and TPM token buckets.
 * The same closed-loop fleet (threads, window, tasks) runs naively — the
 * OpenAI SDK with its default retries — and as Flotilla runs under the fleet
 * scheduler at its defaults; then a job small enough for the key's burst on
 * both; then two processes sharing one limiter through PostgreSQL and Redis.
 */
export async function fleetBench(options: FleetBenchOptions) {
  const quick = options.quick ?? false;
  const s = scenario(quick);
  const sharedBackends = [
    ...(options.postgresUrl ? [["postgres", options.postgresUrl]] : []),
    ...(options.redisUrl ? [["redis", options.redisUrl]] : []),
  ] as [string, string][];
  const windowSeconds = Math.ceil(s.windowMs / 1000);
  const total = 2 * windowSeconds + s.smallJob.rounds + sharedBackends.length;
  let done = 0;
  const tick = (label: string) => options.onProgress?.(++done, total, label);
  /** One tick a second while a window runs. */
  const ticking = async <T>(label: string, work: Promise<T>): Promise<T> => {
    let ticks = 0;
    const timer = setInterval(() => ticks++ < windowSeconds && tick(label), 1000);
    try {
      return await work;
    } finally {
      clearInterval(timer);
      while (ticks++ < windowSeconds) tick(label);
    }
  };

  const naive: Open = (sim, apiKey, _threads, log) =>
    Promise.resolve(naiveSide(sim, s, apiKey, log));
  const flotilla: Open = (sim, apiKey, threads, log) => flotillaSide(sim, s, apiKey, threads, log);

  const sim = await startSimProvider({
    seed: 1,
    limits: { rpm: s.rpm, tpm: s.tpm },
    latency: s.latency,
  });
  const windowOf = (open: Open, key: string) =>
    onFreshKey(sim, open, key, s.threads, (side, log) => measureWindow(sim, s, side, key, log));
  const windows = await (async () => ({
    naive: await ticking("naive fleet", windowOf(naive, "naive")),
    flotilla: await ticking("flotilla fleet", windowOf(flotilla, "flotilla")),
  }))().finally(() => sim.close());
  const withoutLog =
    (open: Open): OpenSide =>
    (on, apiKey, threads) =>
      open(on, apiKey, threads, new CallLog());
  const smallJob = await measureSmallJob(
    s,
    s.smallJob.rounds,
    withoutLog(naive),
    withoutLog(flotilla),
    () => tick("small job"),
  );
  const shared: SharedFigures[] = [];
  for (const [backend, url] of sharedBackends) {
    shared.push(await measureShared(url, backend, quick));
    tick("shared limiter runs");
  }
  return {
    naive: windows.naive,
    flotilla: windows.flotilla,
    smallJob,
    // One entry per backend measured: PostgreSQL and Redis when both are given.
    shared,
    scenario: describeScenario(s),
    checks: checks(windows.flotilla, smallJob, shared),
  };
}
export type FleetBenchResult = Awaited<ReturnType<typeof fleetBench>>;
