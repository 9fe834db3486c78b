import type { Space } from "./distance.js";

/**
 * How a sharded index decides where a vector lives and which shards a query
 * asks, for how many results, at what breadth. The four strategies compared
 * in the benchmark all sit behind this interface.
 */
export type StrategyName = "hash-fanout" | "hash-adaptive" | "kmeans" | "kmeans-replicated";

/** One request to one shard: its `k` results at HNSW breadth `ef`. */
export interface ShardTask {
  shard: number;
  k: number;
  ef: number;
}

/** Per-query knobs. `nprobe` only matters to routed strategies. */
export interface SearchKnobs {
  k: number;
  ef: number;
  nprobe: number;
}

/** What a shard gave back in the first round, as much as a router needs to decide a re-ask. */
export interface FirstRoundAnswer {
  task: ShardTask;
  returned: number;
  /** Distance of its last (worst) result; +Infinity when it returned nothing. */
  lastDistance: number;
}

export interface Router {
  readonly strategy: StrategyName;
  readonly shardCount: number;
  /**
   * Identifies where vectors are placed. Routers with equal placement can
   * search the same shards, which is how the fan-out and adaptive strategies
   * are compared on one set of hash shards.
   */
  readonly placement: string;
  /** Shards that store `vector` (unit length for cosine). Never empty. */
  place(id: number, vector: Float32Array): number[];
  /** First-round requests for `query` (unit length for cosine). */
  plan(query: Float32Array, knobs: SearchKnobs): ShardTask[];
  /** Second-round requests, given the first round and the merged k-th distance. */
  followUp(first: readonly FirstRoundAnswer[], mergedKth: number, knobs: SearchKnobs): ShardTask[];
  toJSON(): RouterState;
}

export type RouterState =
  | { strategy: "hash-fanout"; shards: number; seed: number }
  | { strategy: "hash-adaptive"; shards: number; seed: number; margin: number }
  | KMeansState;

export interface KMeansState {
  strategy: "kmeans" | "kmeans-replicated";
  space: Space;
  dimension: number;
  centroids: number[];
  /** Store a vector also where its centroid is within (1+epsilon) of the nearest; 0 for plain k-means. */
  epsilon: number;
  maxCopies: number;
  /** Skip probed partitions farther than (1+queryEpsilon) of the nearest; Infinity for none. */
  queryEpsilon: number | null;
}
