import { performance } from "node:perf_hooks";
import type { MergedHits } from "../src/vector/merge.js";
import { recallAtK } from "../src/vector/recall.js";
import type { Router } from "../src/vector/router.js";
import type { SearchOptions, ShardedIndex } from "../src/vector/sharded-index.js";

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

export interface Measure {
  index: ShardedIndex;
  queries: Float32Array;
  truth: MergedHits[];
  k: number;
  /** Timed runs per curve point; the fastest counts, to damp noise from other processes. */
  repeats: number;
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

/** Milliseconds to search the whole query set as one batch. */
async function timeBatch(c: Config): Promise<number> {
  const t0 = performance.now();
  await c.m.index.searchBatch(c.m.queries, c.m.k, optionsOf(c));
  return performance.now() - t0;
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

/** Recall and throughput of one configuration; the first (untimed) run gives recall and warms up. */
export async function point(
  m: Measure,
  ef: number,
  nprobe: number,
  router?: Router,
): Promise<CurvePoint> {
  const c: Config = { m, ef, nprobe, router };
  const { recall, calls, beam } = await qualityOf(c);
  let best = Infinity;
  for (let r = 0; r < m.repeats; r++) best = Math.min(best, await timeBatch(c));
  return {
    ef,
    nprobe,
    recall: round(recall, 4),
    qps: Math.round((m.queries.length / m.index.dimension / best) * 1000),
    shardCallsPerQuery: round(calls, 3),
    beamPerQuery: round(beam, 1),
  };
}

/**
 * Times configurations in alternation, `rounds` times, and returns each
 * one's median QPS: load from other processes drifts, and alternating makes
 * the drift hit every configuration alike, so their ratio stays meaningful.
 */
export async function interleavedQps(
  configs: readonly Config[],
  rounds: number,
): Promise<number[]> {
  const times: number[][] = configs.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of configs.entries()) times[i]!.push(await timeBatch(c));
  }
  return times.map((ts, i) => {
    const sorted = [...ts].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return Math.round(
      (configs[i]!.m.queries.length / configs[i]!.m.index.dimension / median) * 1000,
    );
  });
}

export async function efCurve(
  m: Measure,
  efs: readonly number[],
  router?: Router,
): Promise<CurvePoint[]> {
  const out: CurvePoint[] = [];
  for (const ef of efs) {
    const p = await point(m, ef, 1, router);
    delete p.nprobe;
    out.push(p);
  }
  return out;
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
