/**
 * Keeps the k nearest (smallest distance) candidates seen so far in a bounded
 * max-heap, ordered by (distance, id) so ties resolve the same way on every
 * path — that is what lets exact search over shards match exact search over
 * one index id for id.
 */
export class TopK {
  private readonly ids: number[] = [];
  private readonly dists: number[] = [];

  constructor(readonly k: number) {}

  get size(): number {
    return this.ids.length;
  }

  /** Distance a newcomer must beat to enter, or +Infinity while not full. */
  get bound(): number {
    return this.ids.length < this.k ? Infinity : this.dists[0]!;
  }

  push(id: number, dist: number): void {
    if (this.k === 0) return;
    if (this.ids.length < this.k) {
      this.ids.push(id);
      this.dists.push(dist);
      this.siftUp(this.ids.length - 1);
      return;
    }
    if (!before(dist, id, this.dists[0]!, this.ids[0]!)) return;
    this.ids[0] = id;
    this.dists[0] = dist;
    this.siftDown(0);
  }

  /** The kept candidates, nearest first. */
  sorted(): { ids: number[]; distances: number[] } {
    const order = this.ids.map((_, i) => i);
    order.sort((a, b) => this.dists[a]! - this.dists[b]! || this.ids[a]! - this.ids[b]!);
    return { ids: order.map((i) => this.ids[i]!), distances: order.map((i) => this.dists[i]!) };
  }

  private worse(i: number, j: number): boolean {
    return before(this.dists[j]!, this.ids[j]!, this.dists[i]!, this.ids[i]!);
  }

  private swap(i: number, j: number): void {
    [this.ids[i], this.ids[j]] = [this.ids[j]!, this.ids[i]!];
    [this.dists[i], this.dists[j]] = [this.dists[j]!, this.dists[i]!];
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.ids.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < n && this.worse(l, top)) top = l;
      if (r < n && this.worse(r, top)) top = r;
      if (top === i) return;
      this.swap(i, top);
      i = top;
    }
  }
}

/** Total order on candidates: nearer first, then smaller id. */
export function before(distA: number, idA: number, distB: number, idB: number): boolean {
  return distA < distB || (distA === distB && idA < idB);
}
