import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { Space } from "./distance.js";
import { VectorIndexError } from "./errors.js";
import type { ShardConfig } from "./hnsw-shard.js";
import { checkId, checkK, toRow, toRows, type VectorRows } from "./inputs.js";
import { describe, kthDistance, ordered, summarize } from "./gather.js";
import { mergeTopK, type MergedHits } from "./merge.js";
import type { Router, RouterState, SearchKnobs } from "./router.js";
import { routerFromJSON } from "./router-state.js";
import { scatter } from "./scatter.js";
import type { Disposable, SearchEvent, SearchResult } from "./search-result.js";
import { ShardPool } from "./shard-pool.js";
import { parseOrThrow } from "./validate.js";

const IndexOptions = z.object({
  dimension: z.number().int().min(1).max(65_536),
  /** Default "cosine". */
  space: z.enum(["cosine", "l2"]).default("cosine"),
  /** HNSW links per node; default 16. */
  m: z.number().int().min(2).max(128).default(16),
  /** HNSW build breadth; default 200. */
  efConstruction: z.number().int().min(1).max(10_000).default(200),
  /** Search breadth when a search does not say; default 64. */
  ef: z.number().int().min(1).max(100_000).default(64),
  /** Partitions probed by routed strategies when a search does not say; default 1. */
  nprobe: z.number().int().min(1).max(1024).default(1),
  /** Worker threads; default and ceiling: the number of cores (and never more than shards). */
  threads: z.number().int().min(1).optional(),
  /** Seed for HNSW level generation; default 1. */
  seed: z.number().int().min(0).default(1),
  /** Initial capacity per shard; shards grow as needed. Default 1024. */
  initialCapacity: z.number().int().min(1).default(1024),
});

export type ShardedIndexOptions = z.input<typeof IndexOptions>;
type Settings = z.output<typeof IndexOptions>;

const SearchOptions = z.object({
  ef: z.number().int().min(1).max(100_000).optional(),
  nprobe: z.number().int().min(1).max(1024).optional(),
});

export interface SearchOptions {
  ef?: number;
  nprobe?: number;
  /** Search with another router that places vectors the same way (e.g. adaptive over fan-out shards). */
  router?: Router;
  signal?: AbortSignal;
}

interface Manifest {
  version: 1;
  settings: Omit<Settings, "threads">;
  router: RouterState;
  placements: number[][];
}

/**
 * One logical vector index over HNSW shards searched in parallel on worker
 * threads: the same surface as a single index (add, remove, search, save,
 * load), with a `Router` deciding placement and query fan-out, results merged
 * with a k-way heap and de-duplicated by id.
 */
export class ShardedIndex {
  private readonly placements = new Map<number, number[]>();
  private readonly shardSizes: number[];
  private readonly listeners = new Set<(event: SearchEvent) => void>();

  private constructor(
    private readonly settings: Settings,
    readonly router: Router,
    private readonly pool: ShardPool,
  ) {
    this.shardSizes = new Array<number>(router.shardCount).fill(0);
  }

  /** Starts the workers and creates empty shards. Call `close()` when done. */
  static async create(router: Router, options: ShardedIndexOptions): Promise<ShardedIndex> {
    const settings = parseOrThrow(IndexOptions, options, "ShardedIndex options");
    const index = new ShardedIndex(
      settings,
      checkRouter(router),
      ShardedIndex.poolFor(settings, router),
    );
    await index.eachShard((shard, host) =>
      index.pool.request(host, { op: "create", shard, config: index.shardConfig(shard) }),
    );
    return index;
  }

  /** Opens an index written by `save`. */
  static async load(dir: string, options: { threads?: number } = {}): Promise<ShardedIndex> {
    const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as Manifest;
    if (manifest.version !== 1) {
      throw new VectorIndexError(`unsupported index manifest version ${String(manifest.version)}`, {
        field: "version",
        received: manifest.version,
      });
    }
    const settings = parseOrThrow(
      IndexOptions,
      { ...manifest.settings, ...options },
      "ShardedIndex options",
    );
    const router = routerFromJSON(manifest.router);
    const index = new ShardedIndex(settings, router, ShardedIndex.poolFor(settings, router));
    for (const [id, ...shards] of manifest.placements) index.track(id!, shards);
    await index.eachShard((shard, host) =>
      index.pool.request(host, {
        op: "load",
        shard,
        config: index.shardConfig(shard),
        path: join(dir, `shard-${shard}`),
      }),
    );
    return index;
  }

  get dimension(): number {
    return this.settings.dimension;
  }

  get space(): Space {
    return this.settings.space;
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Distinct ids stored. */
  get size(): number {
    return this.placements.size;
  }

  /** Vectors stored per shard (replicas counted where they live). */
  sizes(): number[] {
    return [...this.shardSizes];
  }

  has(id: number): boolean {
    return this.placements.has(id);
  }

  /** Adds `vector` under `id`, replacing any vector already stored under it. */
  async add(id: number, vector: readonly number[] | Float32Array): Promise<void> {
    await this.addRows([checkId(id)], toRow(vector, this.dimension, this.space, "vector"));
  }

  /** Adds many rows at once; `ids[i]` names row i. */
  async addBatch(ids: readonly number[], vectors: VectorRows): Promise<void> {
    ids.forEach((id, i) => checkId(id, `ids[${i}]`));
    const rows = toRows(vectors, this.dimension, this.space, "vectors");
    if (rows.length / this.dimension !== ids.length) {
      throw new VectorIndexError(
        `ids has ${ids.length} entries but vectors has ${rows.length / this.dimension} rows`,
        {
          field: "ids",
          received: ids.length,
        },
      );
    }
    if (new Set(ids).size !== ids.length)
      throw new VectorIndexError("ids contains duplicates", { field: "ids" });
    await this.addRows(ids, rows);
  }

  /** Removes `id` from every shard that holds it. */
  async remove(id: number): Promise<void> {
    checkId(id);
    const shards = this.placements.get(id);
    if (!shards)
      throw new VectorIndexError(`id ${id} is not in the index`, { field: "id", received: id });
    this.untrack(id);
    await Promise.all(
      shards.map((shard) =>
        this.pool.request(this.pool.hostOf(shard), {
          op: "remove",
          shard,
          ids: Float64Array.of(id),
        }),
      ),
    );
  }

  /** The approximate k nearest neighbours of `query`. */
  async search(
    query: readonly number[] | Float32Array,
    k: number,
    options: SearchOptions = {},
  ): Promise<SearchResult> {
    const row = toRow(query, this.dimension, this.space, "query");
    return (await this.searchRows(row, checkK(k), options))[0]!;
  }

  /** Searches many queries in one scatter: one message per worker for the whole batch. */
  async searchBatch(
    queries: VectorRows,
    k: number,
    options: SearchOptions = {},
  ): Promise<SearchResult[]> {
    return this.searchRows(
      toRows(queries, this.dimension, this.space, "queries"),
      checkK(k),
      options,
    );
  }

  /** The exact k nearest neighbours, by brute force on every shard, merged. */
  async exact(
    query: readonly number[] | Float32Array,
    k: number,
    signal?: AbortSignal,
  ): Promise<MergedHits> {
    const row = toRow(query, this.dimension, this.space, "query");
    return (await this.exactRows(row, checkK(k), signal))[0]!;
  }

  async exactBatch(queries: VectorRows, k: number, signal?: AbortSignal): Promise<MergedHits[]> {
    return this.exactRows(
      toRows(queries, this.dimension, this.space, "queries"),
      checkK(k),
      signal,
    );
  }

  /** Exact search over rows already validated (unit length for cosine); used by the recall monitor. */
  async exactRows(rows: Float32Array, k: number, signal?: AbortSignal): Promise<MergedHits[]> {
    signal?.throwIfAborted();
    const all = Array.from({ length: this.router.shardCount }, (_, shard) => ({ shard, k, ef: k }));
    const answers = await scatter(
      this.pool,
      this.dimension,
      rows,
      rowsOf(rows, this.dimension).map(() => all),
      true,
    );
    signal?.throwIfAborted();
    return answers.map((list) => mergeTopK(ordered(list), k));
  }

  /** Calls `listener` after every answered query; dispose to stop. */
  onSearch(listener: (event: SearchEvent) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Writes the manifest and every shard under `dir`. */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await this.eachShard((shard, host) =>
      this.pool.request(host, { op: "save", shard, path: join(dir, `shard-${shard}`) }),
    );
    // Thread count belongs to the machine that opens the index, not to the index.
    const settings = { ...this.settings };
    delete settings.threads;
    const manifest: Manifest = {
      version: 1,
      settings,
      router: this.router.toJSON(),
      placements: [...this.placements].map(([id, shards]) => [id, ...shards]),
    };
    await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  }

  /** Terminates the workers. The index cannot be used afterwards. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private async searchRows(
    rows: Float32Array,
    k: number,
    options: SearchOptions,
  ): Promise<SearchResult[]> {
    const o = parseOrThrow(
      SearchOptions,
      { ef: options.ef, nprobe: options.nprobe },
      "search options",
    );
    const router = options.router ?? this.router;
    if (router.placement !== this.router.placement) {
      throw new VectorIndexError(
        `search router places vectors as '${router.placement}' but this index was built as '${this.router.placement}'`,
        { field: "router", received: router.placement },
      );
    }
    const knobs: SearchKnobs = {
      k,
      ef: o.ef ?? this.settings.ef,
      nprobe: o.nprobe ?? this.settings.nprobe,
    };
    options.signal?.throwIfAborted();
    const queries = rowsOf(rows, this.dimension);
    const firstTasks = queries.map((q) => router.plan(q, knobs));
    const first = await scatter(this.pool, this.dimension, rows, firstTasks, false);
    options.signal?.throwIfAborted();
    let merged = first.map((list) => mergeTopK(ordered(list), k));
    const again = first.map((list, i) =>
      router.followUp(list.map(summarize), kthDistance(merged[i]!, k), knobs),
    );
    let answers = first;
    if (again.some((t) => t.length > 0)) {
      const second = await scatter(this.pool, this.dimension, rows, again, false);
      options.signal?.throwIfAborted();
      answers = first.map((list, i) => [...list, ...second[i]!]);
      merged = answers.map((list) => mergeTopK(ordered(list), k));
    }
    const results = answers.map((list, i) => describe(list, merged[i]!, again[i]!, k));
    results.forEach((result, i) => this.emit({ query: queries[i]!, k, result }));
    return results;
  }

  private emit(event: SearchEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private async addRows(ids: readonly number[], rows: Float32Array): Promise<void> {
    const dim = this.dimension;
    const adds = new Map<number, number[]>();
    const removals = new Map<number, number[]>();
    ids.forEach((id, i) => {
      const target = this.router.place(id, rows.subarray(i * dim, (i + 1) * dim));
      for (const shard of this.placements.get(id) ?? []) {
        if (!target.includes(shard)) removals.set(shard, [...(removals.get(shard) ?? []), id]);
      }
      this.untrack(id);
      this.track(id, target);
      for (const shard of target) {
        let list = adds.get(shard);
        if (!list) adds.set(shard, (list = []));
        list.push(i);
      }
    });
    const jobs: Promise<unknown>[] = [];
    for (const [shard, gone] of removals) {
      jobs.push(
        this.pool.request(this.pool.hostOf(shard), {
          op: "remove",
          shard,
          ids: Float64Array.from(gone),
        }),
      );
    }
    for (const [shard, rowIdx] of adds) {
      const vectors = new Float32Array(rowIdx.length * dim);
      rowIdx.forEach((r, j) => vectors.set(rows.subarray(r * dim, (r + 1) * dim), j * dim));
      const batchIds = Float64Array.from(rowIdx, (r) => ids[r]!);
      jobs.push(
        this.pool.request(this.pool.hostOf(shard), { op: "add", shard, ids: batchIds, vectors }, [
          vectors.buffer,
          batchIds.buffer,
        ]),
      );
    }
    await Promise.all(jobs);
  }

  private track(id: number, shards: number[]): void {
    this.placements.set(id, shards);
    for (const s of shards) this.shardSizes[s]!++;
  }

  private untrack(id: number): void {
    for (const s of this.placements.get(id) ?? []) this.shardSizes[s]!--;
    this.placements.delete(id);
  }

  private shardConfig(shard: number): ShardConfig {
    const s = this.settings;
    return {
      dimension: s.dimension,
      space: s.space,
      m: s.m,
      efConstruction: s.efConstruction,
      seed: s.seed + shard,
      initialCapacity: s.initialCapacity,
    };
  }

  private async eachShard(fn: (shard: number, host: number) => Promise<unknown>): Promise<void> {
    const shards = Array.from({ length: this.router.shardCount }, (_, s) => s);
    await Promise.all(shards.map((s) => fn(s, this.pool.hostOf(s))));
  }

  private static poolFor(settings: Settings, router: Router): ShardPool {
    return new ShardPool(Math.min(settings.threads ?? availableParallelism(), router.shardCount));
  }
}

function checkRouter(router: Router): Router {
  const ok =
    typeof router === "object" &&
    router !== null &&
    typeof router.place === "function" &&
    typeof router.plan === "function" &&
    Number.isInteger(router.shardCount) &&
    router.shardCount >= 1;
  if (!ok)
    throw new VectorIndexError("router must implement the Router interface", { field: "router" });
  return router;
}

function rowsOf(rows: Float32Array, dim: number): Float32Array[] {
  return Array.from({ length: rows.length / dim }, (_, i) => rows.subarray(i * dim, (i + 1) * dim));
}
