import type { MergedHits } from "./merge.js";
import type { FirstRoundAnswer, ShardTask } from "./router.js";
import type { TaskAnswer } from "./scatter.js";
import type { SearchResult } from "./search-result.js";

/*
 * Turning shard answers into one query's result: the order they are merged
 * in, what a router sees of the first round, and the per-shard facts
 * (re-asks, saturation) the recall monitor reports.
 */

/** Answers in shard order, so ties between replicas resolve the same way whichever worker replied first. */
export function ordered(list: TaskAnswer[]): TaskAnswer[] {
  return [...list].sort((a, b) => a.shard - b.shard || b.task.k - a.task.k);
}

export function summarize(a: TaskAnswer): FirstRoundAnswer {
  const n = a.ids.length;
  return { task: a.task, returned: n, lastDistance: n > 0 ? a.distances[n - 1]! : Infinity };
}

export function kthDistance(merged: MergedHits, k: number): number {
  return merged.ids.length < k ? Infinity : merged.distances[k - 1]!;
}

export function describe(
  list: TaskAnswer[],
  merged: MergedHits,
  again: ShardTask[],
  k: number,
): SearchResult {
  const kth = kthDistance(merged, k);
  // A shard's final ask is its largest; it is saturated if that ask came back full and all inside the top-k.
  const finalAsk = new Map<number, TaskAnswer>();
  for (const a of list) {
    const prev = finalAsk.get(a.shard);
    if (!prev || a.task.k > prev.task.k) finalAsk.set(a.shard, a);
  }
  const saturated = [...finalAsk.values()]
    .filter(
      (a) => a.ids.length === a.task.k && a.ids.length > 0 && a.distances[a.ids.length - 1]! <= kth,
    )
    .map((a) => a.shard)
    .sort((x, y) => x - y);
  return {
    ids: merged.ids,
    distances: merged.distances,
    shards: merged.shards,
    asked: list.map((a) => a.task),
    reasked: again.map((t) => t.shard),
    saturated,
  };
}
