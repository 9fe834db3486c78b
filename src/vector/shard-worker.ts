import { parentPort } from "node:worker_threads";
import { serializeError } from "../core/errors.js";
import { HnswShard, type Hits } from "./hnsw-shard.js";
import {
  TASK_WIDTH,
  type SearchReply,
  type WorkerCommand,
  type WorkerReply,
  type WorkerRequest,
} from "./protocol.js";

/**
 * Worker thread owning some shards. Each HNSW graph lives in exactly one
 * thread, so shards are searched in parallel without locks; the main thread
 * only routes and merges.
 */
const shards = new Map<number, HnswShard>();

function shardOf(n: number): HnswShard {
  const shard = shards.get(n);
  if (!shard) throw new Error(`shard ${n} is not hosted by this worker`);
  return shard;
}

function search(cmd: Extract<WorkerCommand, { op: "search" }>): SearchReply {
  const taskCount = cmd.tasks.length / TASK_WIDTH;
  const counts = new Int32Array(taskCount);
  const answers: Hits[] = [];
  let total = 0;
  for (let t = 0; t < taskCount; t++) {
    const base = t * TASK_WIDTH;
    const query = cmd.tasks[base]!;
    const shard = shardOf(cmd.tasks[base + 1]!);
    const k = cmd.tasks[base + 2]!;
    const offset = query * cmd.dimension;
    const hits = cmd.exact
      ? shard.exact(cmd.queries, offset, k)
      : shard.search(cmd.queries, offset, k, cmd.tasks[base + 3]!);
    answers.push(hits);
    counts[t] = hits.ids.length;
    total += hits.ids.length;
  }
  const ids = new Float64Array(total);
  const distances = new Float64Array(total);
  let at = 0;
  for (const hits of answers) {
    ids.set(hits.ids, at);
    distances.set(hits.distances, at);
    at += hits.ids.length;
  }
  return { counts, ids, distances };
}

function run(cmd: WorkerCommand): SearchReply | number | null {
  switch (cmd.op) {
    case "create":
      shards.set(cmd.shard, HnswShard.create(cmd.config));
      return null;
    case "load":
      shards.set(cmd.shard, HnswShard.load(cmd.config, cmd.path));
      return shardOf(cmd.shard).size;
    case "save":
      shardOf(cmd.shard).save(cmd.path);
      return null;
    case "add":
      shardOf(cmd.shard).add(cmd.ids, cmd.vectors);
      return shardOf(cmd.shard).size;
    case "remove":
      shardOf(cmd.shard).remove(cmd.ids);
      return shardOf(cmd.shard).size;
    case "search":
      return search(cmd);
  }
}

parentPort?.on("message", (req: WorkerRequest) => {
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const value = run(req);
    if (value !== null && typeof value === "object") {
      transfer.push(
        value.counts.buffer as ArrayBuffer,
        value.ids.buffer as ArrayBuffer,
        value.distances.buffer as ArrayBuffer,
      );
    }
    reply = { reqId: req.reqId, ok: true, value };
  } catch (err) {
    reply = { reqId: req.reqId, ok: false, error: serializeError(err) };
  }
  parentPort?.postMessage(reply, transfer);
});
