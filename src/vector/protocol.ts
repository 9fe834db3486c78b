import type { SerializedError } from "../core/errors.js";
import type { ShardConfig } from "./hnsw-shard.js";

/**
 * Messages between a `ShardPool` and its workers. Vectors travel as
 * Float32Array rows and search work as a flat Int32Array of
 * (query, shard, k, ef) quadruples, so one message carries a whole batch.
 */
export type WorkerCommand =
  | { op: "create"; shard: number; config: ShardConfig }
  | { op: "load"; shard: number; config: ShardConfig; path: string }
  | { op: "save"; shard: number; path: string }
  | { op: "add"; shard: number; ids: Float64Array; vectors: Float32Array }
  | { op: "remove"; shard: number; ids: Float64Array }
  | { op: "search"; dimension: number; queries: Float32Array; tasks: Int32Array; exact: boolean };

export type WorkerRequest = WorkerCommand & { reqId: number };

/** Search answers, task by task: `counts[t]` hits of task t, laid end to end. */
export interface SearchReply {
  counts: Int32Array;
  ids: Float64Array;
  distances: Float64Array;
}

export type WorkerReply =
  | { reqId: number; ok: true; value: SearchReply | number | null }
  | { reqId: number; ok: false; error: SerializedError };

/** Number of Int32 slots per search task. */
export const TASK_WIDTH = 4;
