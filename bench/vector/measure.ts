import { performance } from "node:perf_hooks";
import type { MergedHits } from "../../src/vector/merge.js";
import { recallAtK } from "../../src/vector/recall.js";
import type { Router, ShardTask } from "../../src/vector/router.js";
import type { SearchOptions } from "../../src/vector/sharded-index.js";

export interface CurvePoint {
  ef: number;
  nprobe?: number;
  recall: number;
  qps: number;
  /** Mean shard requests per query, re-asks included. */
  shardCallsPerQuery: number;
  /**
   * Mean HNSW beam summed over a query's shard requests (max(ef, k) each): a
   * cost measure that, unlike QPS, other processes on the machine cannot move.
   */
  beamPerQuery: number;
}

/** What the bench searches: a sharded index, or the single-index baseline (threaded-single.ts). */
export interface Searchable {
  readonly dimension: number;
  readonly threads: number;
  searchBatch(
    queries: Float32Array,
    k: number,
    options: SearchOptions,
  ): Promise<{ ids: ArrayLike<number>; asked: readonly ShardTask[] }[]>;
}

export interface Measure {
  index: Searchable;
  queries: Float32Array;
  truth: MergedHits[];
  k: number;
}

/** One way of searching an index: its breadth, probes and (optionally) a router other than its own. */
export interface Config {
  m: Measure;
  ef: number;
  nprobe: number;
  router?: Router | undefined;
}

function optionsOf(c: Config): SearchOptions {
  return c.router
    ? { ef: c.ef, nprobe: c.nprobe, router: c.router }
    : { ef: c.ef, nprobe: c.nprobe };
}

/** How configurations are timed against each other. */
export interface Timing {
  /** Alternating rounds; each configuration's median counts. */
  rounds: number;
  /**
   * A round's sample repeats the batch until it has lasted this long: a
   * 1000-query batch can take 50 ms, about what another process's burst on
   * a shared core costs, and one such burst would decide the sample.
   */
  minSampleMs: number;
  /** Says how, for the report. */
  label: string;
}

/** Milliseconds per search of the whole query set as one batch, over at least `minMs`. */
async function timeBatch(c: Config, minMs: number): Promise<number> {
  const t0 = performance.now();
  let batches = 0;
  let elapsed: number;
  do {
    await c.m.index.searchBatch(c.m.queries, c.m.k, optionsOf(c));
    batches++;
    elapsed = performance.now() - t0;
  } while (elapsed < minMs);
  return elapsed / batches;
}

interface Quality {
  recall: number;
  /** Mean shard requests per query, re-asks included. */
  calls: number;
  /** Mean HNSW beam (max(ef, k)) summed over a query's shard requests. */
  beam: number;
}

async function qualityOf(c: Config): Promise<Quality> {
  const results = await c.m.index.searchBatch(c.m.queries, c.m.k, optionsOf(c));
  return {
    recall: mean(results.map((res, i) => recallAtK(res.ids, c.m.truth[i]!.ids, c.m.k))),
    calls: mean(results.map((res) => res.asked.length)),
    beam: mean(results.map((res) => res.asked.reduce((a, t) => a + Math.max(t.ef, t.k), 0))),
  };
}

export interface MatchedPoint {
  ef: number;
  recall: number;
  beamPerQuery: number;
}

/**
 * The smallest ef in [lo, hi] at which `config` reaches `target` recall, by
 * bisection (recall rises with ef), or null when even `hi` falls short. A
 * grid would hand each strategy whatever overshoot its nearest grid point
 * happens to give, and that quantization can decide a comparison of two.
 */
export async function minimalEf(
  config: Omit<Config, "ef">,
  target: number,
  lo: number,
  hi: number,
): Promise<MatchedPoint | null> {
  const at = (ef: number) => qualityOf({ ...config, ef });
  let best = await at(hi);
  if (best.recall < target) return null;
  let high = hi;
  let low = lo - 1;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const q = await at(mid);
    if (q.recall >= target) [high, best] = [mid, q];
    else low = mid;
  }
  return { ef: high, recall: round(best.recall, 4), beamPerQuery: round(best.beam, 1) };
}

/**
 * Times configurations in alternation, `timing.rounds` times, and returns
 * each one's median QPS: load from other processes drifts, and alternating makes
 * the drift hit every configuration alike, so their ratio stays meaningful.
 * Each round starts one configuration later, so none always runs first
 * (or always right after the same neighbour).
 */
export async function interleavedQps(
  configs: readonly Config[],
  timing: Timing,
): Promise<number[]> {
  const times: number[][] = configs.map(() => []);
  for (let r = 0; r < timing.rounds; r++) {
    for (let j = 0; j < configs.length; j++) {
      const i = (j + r) % configs.length;
      times[i]!.push(await timeBatch(configs[i]!, timing.minSampleMs));
    }
  }
  return times.map((ts, i) => {
    const sorted = [...ts].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return Math.round(
      (configs[i]!.m.queries.length / configs[i]!.m.index.dimension / median) * 1000,
    );
  });
}

/**
 * Recall/QPS points of configurations timed together: an untimed run each
 * gives recall and warms up, then `interleavedQps`, so points compared on a
 * chart were timed in the same window.
 */
export async function curvePoints(
  configs: readonly Config[],
  timing: Timing,
): Promise<CurvePoint[]> {
  const quality: Quality[] = [];
  for (const c of configs) quality.push(await qualityOf(c));
  const qps = await interleavedQps(configs, timing);
  return configs.map((c, i) => ({
    ef: c.ef,
    nprobe: c.nprobe,
    recall: round(quality[i]!.recall, 4),
    qps: qps[i]!,
    shardCallsPerQuery: round(quality[i]!.calls, 3),
    beamPerQuery: round(quality[i]!.beam, 1),
  }));
}

export function meanRecall(found: { ids: number[] }[], truth: MergedHits[], k: number): number {
  return mean(found.map((f, i) => recallAtK(f.ids, truth[i]!.ids, k)));
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
