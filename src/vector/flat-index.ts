import { dot, squaredL2, type Space } from "./distance.js";
import { TopK } from "./topk.js";

/**
 * Exact nearest-neighbour search by brute force over one contiguous
 * Float32Array. It is the ground truth the recall figures and the recall
 * monitor are measured against, so it must agree with hnswlib on distances:
 * cosine rows are stored unit-length and scored as `1 - dot`.
 */
export class FlatIndex {
  private data: Float32Array;
  private ids: Float64Array;
  private readonly rowOf = new Map<number, number>();
  private count = 0;

  constructor(
    readonly dimension: number,
    readonly space: Space,
    initialCapacity = 1024,
  ) {
    const cap = Math.max(1, initialCapacity);
    this.data = new Float32Array(cap * dimension);
    this.ids = new Float64Array(cap);
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.rowOf.has(id);
  }

  /** Adds or replaces `id`; `vector` must already be unit length for cosine. */
  upsert(id: number, vector: Float32Array, offset = 0): void {
    let row = this.rowOf.get(id);
    if (row === undefined) {
      if (this.count === this.ids.length) this.grow();
      row = this.count++;
      this.rowOf.set(id, row);
      this.ids[row] = id;
    }
    this.data.set(vector.subarray(offset, offset + this.dimension), row * this.dimension);
  }

  /** Removes `id` by moving the last row into its place; false when absent. */
  remove(id: number): boolean {
    const row = this.rowOf.get(id);
    if (row === undefined) return false;
    const last = --this.count;
    if (row !== last) {
      const lastId = this.ids[last]!;
      this.data.copyWithin(
        row * this.dimension,
        last * this.dimension,
        (last + 1) * this.dimension,
      );
      this.ids[row] = lastId;
      this.rowOf.set(lastId, row);
    }
    this.rowOf.delete(id);
    return true;
  }

  /** The k nearest rows to the query row at `offset` of `queries`, nearest first. */
  search(queries: Float32Array, offset: number, k: number): { ids: number[]; distances: number[] } {
    const top = new TopK(k);
    const dim = this.dimension;
    const cosine = this.space === "cosine";
    for (let row = 0; row < this.count; row++) {
      const d = cosine
        ? 1 - dot(this.data, row * dim, queries, offset, dim)
        : squaredL2(this.data, row * dim, queries, offset, dim);
      if (d <= top.bound) top.push(this.ids[row]!, d);
    }
    return top.sorted();
  }

  /** Live ids, in storage order. */
  idList(): number[] {
    return Array.from(this.ids.subarray(0, this.count));
  }

  /** The stored (normalised, for cosine) vector of `id`, or undefined. */
  vector(id: number): Float32Array | undefined {
    const row = this.rowOf.get(id);
    if (row === undefined) return undefined;
    return this.data.slice(row * this.dimension, (row + 1) * this.dimension);
  }

  private grow(): void {
    const cap = this.ids.length * 2;
    const data = new Float32Array(cap * this.dimension);
    data.set(this.data);
    const ids = new Float64Array(cap);
    ids.set(this.ids);
    this.data = data;
    this.ids = ids;
  }
}
