import type { ShardHits } from "./merge.js";
import { TASK_WIDTH, type SearchReply } from "./protocol.js";
import type { ShardTask } from "./router.js";
import type { ShardPool } from "./shard-pool.js";

export interface TaskAnswer extends ShardHits {
  task: ShardTask;
}

/**
 * Sends each query's shard tasks to the workers hosting those shards, one
 * message per worker for the whole batch, and hands back the answers grouped
 * by query. Workers run concurrently; within a worker tasks run in order.
 */
export async function scatter(
  pool: ShardPool,
  dimension: number,
  queries: Float32Array,
  tasks: readonly (readonly ShardTask[])[],
  exact: boolean,
): Promise<TaskAnswer[][]> {
  const perHost: { query: number; task: ShardTask }[][] = Array.from(
    { length: pool.threads },
    () => [],
  );
  tasks.forEach((list, query) => {
    for (const task of list) perHost[pool.hostOf(task.shard)]!.push({ query, task });
  });
  const answers: TaskAnswer[][] = tasks.map(() => []);
  await Promise.all(
    perHost.map(async (jobs, host) => {
      if (jobs.length === 0) return;
      const packed = new Int32Array(jobs.length * TASK_WIDTH);
      jobs.forEach((j, i) =>
        packed.set([j.query, j.task.shard, j.task.k, j.task.ef], i * TASK_WIDTH),
      );
      const reply = await pool.request<SearchReply>(
        host,
        { op: "search", dimension, queries, tasks: packed, exact },
        [packed.buffer],
      );
      let at = 0;
      jobs.forEach((j, i) => {
        const n = reply.counts[i]!;
        answers[j.query]!.push({
          task: j.task,
          shard: j.task.shard,
          ids: reply.ids.subarray(at, at + n),
          distances: reply.distances.subarray(at, at + n),
        });
        at += n;
      });
    }),
  );
  return answers;
}
