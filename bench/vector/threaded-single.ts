import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Space } from "../../src/vector/distance.js";
import type { ShardConfig } from "../../src/vector/hnsw-shard.js";
import { toRows } from "../../src/vector/inputs.js";
import type { MergedHits } from "../../src/vector/merge.js";
import { TASK_WIDTH, type SearchReply } from "../../src/vector/protocol.js";
import type { ShardTask } from "../../src/vector/router.js";
import { ShardPool } from "../../src/vector/shard-pool.js";
import type { ShardedIndex } from "../../src/vector/sharded-index.js";
import type { Searchable } from "./measure.js";

/**
 * The baseline sharding must beat: one HNSW index searched from as many
 * threads as the sharded index uses, each thread taking an equal share of
 * the query batch — what hnswlib's own multi-threaded query does over one
 * graph. hnswlib-node searches on the calling thread and a native graph
 * cannot be shared between Node worker threads, so each thread loads its own
 * copy of the same saved graph (same answers, one copy's memory per thread).
 * The threads are the sharded index's own worker code (`ShardPool`, the
 * shard worker's search), so per query they do exactly the same work; only
 * the main thread does less, having nothing to route or merge.
 */
export class ThreadedSingleIndex implements Searchable {
  private constructor(
    private readonly pool: ShardPool,
    private readonly space: Space,
    readonly dimension: number,
    readonly threads: number,
  ) {}

  /** Copies `single` (an index of one shard) into `threads` worker threads. */
  static async open(
    single: ShardedIndex,
    threads: number,
    build: Pick<ShardConfig, "m" | "efConstruction" | "seed">,
  ): Promise<ThreadedSingleIndex> {
    if (single.router.shardCount !== 1)
      throw new Error("the baseline is a single, unsharded index");
    const dir = await mkdtemp(join(tmpdir(), "flotilla-vector-single-"));
    const pool = new ShardPool(threads);
    try {
      await single.save(dir);
      const config: ShardConfig = {
        ...build,
        dimension: single.dimension,
        space: single.space,
        initialCapacity: single.size,
      };
      const path = join(dir, "shard-0");
      await Promise.all(
        Array.from({ length: pool.threads }, (_, host) =>
          pool.request(host, { op: "load", shard: 0, config, path }),
        ),
      );
    } catch (err) {
      await pool.close();
      throw err;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return new ThreadedSingleIndex(pool, single.space, single.dimension, pool.threads);
  }

  /** The same index searched from its first `threads` threads only (for the scaling check). */
  limitedTo(threads: number): ThreadedSingleIndex {
    const count = Math.min(threads, this.threads);
    return new ThreadedSingleIndex(this.pool, this.space, this.dimension, count);
  }

  /** The k nearest of each query at breadth max(ef, k), as a one-shard `ShardedIndex` asks. */
  async searchBatch(
    queries: Float32Array,
    k: number,
    options: { ef?: number } = {},
  ): Promise<{ ids: number[]; asked: ShardTask[] }[]> {
    const task = { shard: 0, k, ef: Math.max(k, options.ef ?? 64) };
    const answers = await this.spread(queries, task, false);
    return answers.map((ids) => ({ ids: ids.ids, asked: [task] }));
  }

  /** Exact k nearest by brute force, spread over the threads like a search. */
  async exactBatch(queries: Float32Array, k: number): Promise<MergedHits[]> {
    const answers = await this.spread(queries, { shard: 0, k, ef: k }, true);
    return answers.map((a) => ({ ...a, shards: a.ids.map(() => 0) }));
  }

  /** Terminates the threads (shared with every `limitedTo` view). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** One message per thread, each with a contiguous share of the (normalised) queries. */
  private async spread(
    queries: Float32Array,
    task: ShardTask,
    exact: boolean,
  ): Promise<{ ids: number[]; distances: number[] }[]> {
    const dim = this.dimension;
    const rows = toRows(queries, dim, this.space, "queries");
    const n = rows.length / dim;
    const share = Math.ceil(n / this.threads);
    const parts = await Promise.all(
      Array.from({ length: this.threads }, async (_, host) => {
        const from = host * share;
        const count = Math.max(0, Math.min(n, from + share) - from);
        if (count === 0) return [];
        const slice = rows.slice(from * dim, (from + count) * dim);
        const tasks = new Int32Array(count * TASK_WIDTH);
        for (let q = 0; q < count; q++) tasks.set([q, task.shard, task.k, task.ef], q * TASK_WIDTH);
        const reply = await this.pool.request<SearchReply>(
          host,
          { op: "search", dimension: dim, queries: slice, tasks, exact },
          [slice.buffer, tasks.buffer],
        );
        let at = 0;
        return Array.from(reply.counts, (c) => {
          const hits = {
            ids: Array.from(reply.ids.subarray(at, at + c)),
            distances: Array.from(reply.distances.subarray(at, at + c)),
          };
          at += c;
          return hits;
        });
      }),
    );
    return parts.flat();
  }
}
