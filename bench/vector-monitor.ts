import { RecallMonitor } from "../src/vector/recall-monitor.js";
import { meanRecall, round, type Measure } from "./vector-measure.js";

export interface MonitorCheckOptions {
  sampleRate: number;
  seed: number;
  ef: number;
  nprobe: number;
}

/**
 * Live queries, in batches of 50 as traffic would arrive, through an index
 * whose recall is visibly short of target; the monitor's sampled estimate is
 * compared with recall computed offline over every query.
 */
export async function monitorCheck(
  m: Measure,
  o: MonitorCheckOptions,
): Promise<Record<string, unknown>> {
  const target = 0.9;
  const monitor = new RecallMonitor(m.index, {
    sampleRate: o.sampleRate,
    target,
    window: 100_000,
    seed: o.seed,
  });
  const dim = m.index.dimension;
  const nq = m.queries.length / dim;
  const found: { ids: number[] }[] = [];
  for (let i = 0; i < nq; i += 50) {
    const end = Math.min(nq, i + 50);
    const batch = m.queries.subarray(i * dim, end * dim);
    found.push(...(await m.index.searchBatch(batch, m.k, { ef: o.ef, nprobe: o.nprobe })));
  }
  await monitor.drain();
  const snap = monitor.snapshot();
  monitor.dispose();
  const offline = meanRecall(found, m.truth, m.k);
  const estimated = snap.estimate ?? NaN;
  return {
    sampled: snap.evaluated,
    estimated: round(estimated, 4),
    offline: round(offline, 4),
    absError: round(Math.abs(estimated - offline), 4),
    interval: [round(snap.low, 4), round(snap.high, 4)],
    alerting: snap.alerting,
    config: { strategy: m.index.router.strategy, shards: m.index.router.shardCount, ...o, target },
    shards: snap.shards,
  };
}
