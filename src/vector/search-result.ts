import type { ShardTask } from "./router.js";

/** What one query got back, and how: which shards were asked for what, and who answered. */
export interface SearchResult {
  ids: number[];
  distances: number[];
  /** Shard each result came from. */
  shards: number[];
  /** Every request made, first round then re-asks. */
  asked: ShardTask[];
  /** Shards re-asked in a second round (adaptive strategy). */
  reasked: number[];
  /**
   * Shards whose every returned result made the merged top-k while returning
   * all they were asked for: they may have held more, so a saturated shard is
   * where recall is lost when per-shard k is too small.
   */
  saturated: number[];
}

/** Emitted after each answered query; the recall monitor listens to these. */
export interface SearchEvent {
  /** The query as searched (unit length for cosine). */
  query: Float32Array;
  k: number;
  result: SearchResult;
}

export interface Disposable {
  dispose(): void;
}
