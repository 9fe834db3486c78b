import { z } from "zod";
import { distance, normalizeRows } from "./distance.js";
import { VectorIndexError } from "./errors.js";
import { trainBalancedKMeans } from "./kmeans.js";
import type { KMeansState, Router, SearchKnobs, ShardTask } from "./router.js";
import { parseOrThrow } from "./validate.js";

const TrainOptions = z.object({
  partitions: z.number().int().min(1).max(1024),
  space: z.enum(["cosine", "l2"]).default("cosine"),
  iterations: z.number().int().min(1).max(200).default(15),
  seed: z.number().int().default(0),
  slack: z.number().min(0).max(10).default(0.05),
  /** Boundary replication: also store a vector in partitions within (1+epsilon) of its nearest. 0 = off. */
  epsilon: z.number().min(0).max(10).default(0),
  maxCopies: z.number().int().min(1).max(64).default(8),
  /** Query-side pruning: skip probed partitions farther than (1+queryEpsilon) of the nearest. */
  queryEpsilon: z.number().min(0).nullable().default(null),
});

export type KMeansRouterOptions = z.input<typeof TrainOptions>;

/**
 * Routed partitions (strategies C and D): each shard is a balanced k-means
 * cell, a query probes the `nprobe` cells with the nearest centroids. With
 * `epsilon > 0` a vector near a cell boundary is also stored in the
 * neighbouring cells (SPANN's closure assignment), so a query that lands on
 * the wrong side still finds it.
 */
export class KMeansRouter implements Router {
  readonly strategy: "kmeans" | "kmeans-replicated";
  readonly shardCount: number;
  readonly placement: string;

  private constructor(private readonly state: KMeansState & { centroidRows: Float32Array }) {
    this.strategy = state.strategy;
    this.shardCount = state.centroidRows.length / state.dimension;
    this.placement = `kmeans:${this.shardCount}:${state.epsilon}:${state.maxCopies}:${checksum(state.centroidRows)}`;
  }

  /** Trains centroids on `sample` (rows of `dimension`); cosine rows need not be unit length. */
  static train(
    sample: Float32Array,
    dimension: number,
    options: KMeansRouterOptions,
  ): KMeansRouter {
    const o = parseOrThrow(TrainOptions, options, "KMeansRouter options");
    if (
      sample.length === 0 ||
      sample.length % dimension !== 0 ||
      sample.length / dimension < o.partitions
    ) {
      throw new VectorIndexError(
        `KMeansRouter needs at least ${o.partitions} training rows of dimension ${dimension}`,
        { field: "sample", received: sample.length },
      );
    }
    const rows = o.space === "cosine" ? normalizeRows(sample.slice(), dimension) : sample;
    const centroids = trainBalancedKMeans(rows, dimension, o);
    return new KMeansRouter({
      strategy: o.epsilon > 0 ? "kmeans-replicated" : "kmeans",
      space: o.space,
      dimension,
      centroids: [],
      centroidRows: centroids,
      epsilon: o.epsilon,
      maxCopies: o.maxCopies,
      queryEpsilon: o.queryEpsilon,
    });
  }

  static fromJSON(state: KMeansState): KMeansRouter {
    return new KMeansRouter({ ...state, centroidRows: Float32Array.from(state.centroids) });
  }

  place(_id: number, vector: Float32Array): number[] {
    const ranked = this.rank(vector);
    const nearest = ranked[0]!.dist;
    const bound = (1 + this.state.epsilon) * nearest;
    const out: number[] = [];
    for (const r of ranked) {
      if (out.length >= this.state.maxCopies || (out.length > 0 && r.dist > bound)) break;
      out.push(r.shard);
    }
    return out;
  }

  plan(query: Float32Array, knobs: SearchKnobs): ShardTask[] {
    const ranked = this.rank(query).slice(0, Math.max(1, Math.min(knobs.nprobe, this.shardCount)));
    const q = this.state.queryEpsilon;
    const bound = q === null ? Infinity : (1 + q) * ranked[0]!.dist;
    return ranked
      .filter((r, i) => i === 0 || r.dist <= bound)
      .map((r) => ({ shard: r.shard, k: knobs.k, ef: knobs.ef }));
  }

  followUp(): ShardTask[] {
    return [];
  }

  /**
   * Centroids, nearest first, by the index's own distance (1 − cos for
   * cosine, squared L2 for l2), so ε is a ratio of the distances the shards
   * rank by. Centroids are unit length for cosine, like the vectors.
   */
  rank(vector: Float32Array): { shard: number; dist: number }[] {
    const { dimension: dim, space, centroidRows } = this.state;
    const out: { shard: number; dist: number }[] = [];
    for (let c = 0; c < this.shardCount; c++) {
      out.push({ shard: c, dist: distance(space, vector, 0, centroidRows, c * dim, dim) });
    }
    return out.sort((a, b) => a.dist - b.dist || a.shard - b.shard);
  }

  toJSON(): KMeansState {
    const { centroidRows, ...rest } = this.state;
    return { ...rest, centroids: Array.from(centroidRows) };
  }
}

/** Cheap fingerprint of the centroids, so two routers trained differently never share shards. */
function checksum(rows: Float32Array): string {
  const bytes = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16);
}
