import { before } from "./topk.js";

/** One shard's answer to one query, nearest first. */
export interface ShardHits {
  shard: number;
  ids: ArrayLike<number>;
  distances: ArrayLike<number>;
}

export interface MergedHits {
  ids: number[];
  distances: number[];
  /** The shard each merged hit came from (the first to offer it). */
  shards: number[];
}

/**
 * K-way merge of per-shard lists with a min-heap over the list heads, keeping
 * the first occurrence of each id: with boundary replication, and when a
 * shard is asked twice, the same id arrives from several lists.
 */
export function mergeTopK(lists: readonly ShardHits[], k: number): MergedHits {
  const heads: number[] = [];
  const pos = new Array<number>(lists.length).fill(0);
  const headDist = (l: number): number => lists[l]!.distances[pos[l]!]!;
  const headId = (l: number): number => lists[l]!.ids[pos[l]!]!;
  const less = (a: number, b: number): boolean => {
    const da = headDist(a);
    const db = headDist(b);
    const ia = headId(a);
    const ib = headId(b);
    return before(da, ia, db, ib) || (da === db && ia === ib && a < b);
  };
  const siftUp = (i: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heads[i]!, heads[p]!)) return;
      [heads[i], heads[p]] = [heads[p]!, heads[i]!];
      i = p;
    }
  };
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < heads.length && less(heads[l]!, heads[top]!)) top = l;
      if (r < heads.length && less(heads[r]!, heads[top]!)) top = r;
      if (top === i) return;
      [heads[i], heads[top]] = [heads[top]!, heads[i]!];
      i = top;
    }
  };
  for (let l = 0; l < lists.length; l++) {
    if (lists[l]!.ids.length === 0) continue;
    heads.push(l);
    siftUp(heads.length - 1);
  }
  const out: MergedHits = { ids: [], distances: [], shards: [] };
  const seen = new Set<number>();
  while (out.ids.length < k && heads.length > 0) {
    const l = heads[0]!;
    const id = headId(l);
    if (!seen.has(id)) {
      seen.add(id);
      out.ids.push(id);
      out.distances.push(headDist(l));
      out.shards.push(lists[l]!.shard);
    }
    pos[l] = pos[l]! + 1;
    if (pos[l] < lists[l]!.ids.length) {
      siftDown(0);
    } else {
      heads[0] = heads[heads.length - 1]!;
      heads.pop();
      if (heads.length > 0) siftDown(0);
    }
  }
  return out;
}
