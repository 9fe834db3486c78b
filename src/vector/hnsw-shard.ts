import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import type Hnswlib from "hnswlib-node";
import type { Space } from "./distance.js";
import { FlatIndex } from "./flat-index.js";

/**
 * hnswlib-node is an optional peer dependency (a native module compiled at
 * install): only `flotilla/vector` needs it, so it is loaded on first use.
 */
let hnswlibModule: typeof Hnswlib | undefined;
function hnswlib(): typeof Hnswlib {
  if (hnswlibModule) return hnswlibModule;
  try {
    hnswlibModule = createRequire(import.meta.url)("hnswlib-node") as typeof Hnswlib;
    return hnswlibModule;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
    throw new Error(
      "flotilla/vector needs the peer dependency hnswlib-node: npm install hnswlib-node@^3",
      { cause: err },
    );
  }
}

export interface ShardConfig {
  dimension: number;
  space: Space;
  m: number;
  efConstruction: number;
  seed: number;
  initialCapacity: number;
}

export interface Hits {
  ids: number[];
  distances: number[];
}

/**
 * One partition: an HNSW graph for approximate search and a flat copy of the
 * same vectors for exact search. The flat copy is what lets the recall
 * monitor check a shard's answers without a second system of record.
 */
export class HnswShard {
  private readonly graph: Hnswlib.HierarchicalNSW;
  private readonly flat: FlatIndex;
  private ef = -1;

  private constructor(
    private readonly config: ShardConfig,
    graph: Hnswlib.HierarchicalNSW,
    flat: FlatIndex,
  ) {
    this.graph = graph;
    this.flat = flat;
  }

  static create(config: ShardConfig): HnswShard {
    const graph = new (hnswlib().HierarchicalNSW)(config.space, config.dimension);
    graph.initIndex({
      maxElements: Math.max(1, config.initialCapacity),
      m: config.m,
      efConstruction: config.efConstruction,
      randomSeed: config.seed,
    });
    return new HnswShard(
      config,
      graph,
      new FlatIndex(config.dimension, config.space, config.initialCapacity),
    );
  }

  /** Reads a shard written by `save`. */
  static load(config: ShardConfig, path: string): HnswShard {
    const graph = new (hnswlib().HierarchicalNSW)(config.space, config.dimension);
    graph.readIndexSync(`${path}.hnsw`);
    const bytes = readFileSync(`${path}.flat`);
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const count = new Float64Array(buf, 0, 1)[0]!;
    const ids = new Float64Array(buf, 8, count);
    const data = new Float32Array(buf, 8 + 8 * count, count * config.dimension);
    const flat = new FlatIndex(config.dimension, config.space, Math.max(1, count));
    for (let i = 0; i < count; i++) flat.upsert(ids[i]!, data, i * config.dimension);
    return new HnswShard(config, graph, flat);
  }

  get size(): number {
    return this.flat.size;
  }

  /** Adds or replaces rows of `vectors` (unit length for cosine) under `ids`. */
  add(ids: ArrayLike<number>, vectors: Float32Array): void {
    const dim = this.config.dimension;
    const needed = this.graph.getCurrentCount() + ids.length;
    if (needed > this.graph.getMaxElements()) {
      this.graph.resizeIndex(Math.max(needed, 2 * this.graph.getMaxElements()));
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      // hnswlib updates an existing label in place and revives a deleted one.
      this.graph.addPoint(Array.from(vectors.subarray(i * dim, (i + 1) * dim)), id);
      this.flat.upsert(id, vectors, i * dim);
    }
  }

  remove(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (this.flat.remove(id)) this.graph.markDelete(id);
    }
  }

  search(queries: Float32Array, offset: number, k: number, ef: number): Hits {
    if (this.flat.size === 0 || k === 0) return { ids: [], distances: [] };
    if (ef !== this.ef) {
      this.graph.setEf(ef);
      this.ef = ef;
    }
    const query = Array.from(queries.subarray(offset, offset + this.config.dimension));
    const res = this.graph.searchKnn(query, Math.min(k, this.flat.size));
    return { ids: res.neighbors, distances: res.distances };
  }

  exact(queries: Float32Array, offset: number, k: number): Hits {
    return this.flat.search(queries, offset, k);
  }

  save(path: string): void {
    this.graph.writeIndexSync(`${path}.hnsw`);
    const ids = this.flat.idList();
    const out = new ArrayBuffer(8 + 8 * ids.length + 4 * ids.length * this.config.dimension);
    new Float64Array(out, 0, 1)[0] = ids.length;
    new Float64Array(out, 8, ids.length).set(ids);
    const data = new Float32Array(out, 8 + 8 * ids.length, ids.length * this.config.dimension);
    ids.forEach((id, i) => data.set(this.flat.vector(id)!, i * this.config.dimension));
    writeFileSync(`${path}.flat`, new Uint8Array(out));
  }
}
