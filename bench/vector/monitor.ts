import { RecallMonitor, type ShardSignal } from "../../src/vector/recall-monitor.js";
import type { ShardedIndex } from "../../src/vector/sharded-index.js";
import { meanRecall, round, type Measure } from "./measure.js";

export interface MonitorCheckOptions {
  sampleRate: number;
  seed: number;
  ef: number;
  nprobe: number;
}

export interface MonitorFigures {
  /** Live queries picked for an exact re-run. */
  sampled: number;
  /** Of those, re-run and counted in the estimate (the rest were dropped when the queue was full). */
  evaluated: number;
  estimated: number;
  offline: number;
  absError: number;
  interval: [number, number];
  alerting: boolean;
  config: MonitorCheckOptions & { strategy: string; shards: number; target: number };
  shards: ShardSignal[];
}

/**
 * Live queries, in batches of 50 as traffic would arrive, through an index
 * whose recall is visibly short of target; the monitor's sampled estimate is
 * compared with recall computed offline over every query.
 */
export async function monitorCheck(
  index: ShardedIndex,
  m: Omit<Measure, "index">,
  o: MonitorCheckOptions,
): Promise<MonitorFigures> {
  const target = 0.9;
  const monitor = new RecallMonitor(index, {
    sampleRate: o.sampleRate,
    target,
    window: 100_000,
    seed: o.seed,
  });
  const dim = index.dimension;
  const nq = m.queries.length / dim;
  const found: { ids: number[] }[] = [];
  for (let i = 0; i < nq; i += 50) {
    const end = Math.min(nq, i + 50);
    const batch = m.queries.subarray(i * dim, end * dim);
    found.push(...(await index.searchBatch(batch, m.k, { ef: o.ef, nprobe: o.nprobe })));
  }
  await monitor.drain();
  const snap = monitor.snapshot();
  monitor.dispose();
  const offline = meanRecall(found, m.truth, m.k);
  const estimated = snap.estimate ?? NaN;
  return {
    sampled: snap.sampled,
    evaluated: snap.evaluated,
    estimated: round(estimated, 4),
    offline: round(offline, 4),
    absError: round(Math.abs(estimated - offline), 4),
    interval: [round(snap.low, 4), round(snap.high, 4)],
    alerting: snap.alerting,
    config: { strategy: index.router.strategy, shards: index.router.shardCount, ...o, target },
    shards: snap.shards,
  };
}
