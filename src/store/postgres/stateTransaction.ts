import type pg from "pg";
import { CancelledError, LeaseLostError, NotFoundError } from "../../core/errors.js";
import type { Json } from "../../core/json.js";
import { recorded, writerColumns } from "../stateApply.js";
import { isRunWriter, type StateKey, type StateWriter } from "../stateTypes.js";
import { NOW_MS, prepared, type Row, type Statement } from "./sql.js";

/** Deadlocks, serialization failures, and a (run, step) recorded by a concurrent execution. */
export const RETRYABLE = new Set(["40P01", "40001", "23505"]);

export const json = (v: Json | undefined): string | null =>
  v === undefined ? null : JSON.stringify(v);

/** What a write does once the run's fence and its (run, step) record have been checked. */
export interface Work<T> {
  /** Sent with BEGIN and the checks, in one round trip; rolled back if the step wrote before. */
  first: Statement[];
  /** From the first statements' rows: the result, the writes to commit, whether to record it. */
  finish(rows: Row[][], now: number): { result: T; writes: Statement[]; record: boolean };
}

/**
 * One write in one transaction, in two round trips on a pipelined connection:
 * BEGIN, the run's fence, its (run, step) record and the work's first
 * statements (which take the row locks) go together; the writes, the record
 * of this step's result and COMMIT go together. A step that wrote before gets
 * its recorded result back (and the work is rolled back); a concurrent
 * execution of the same step loses on the record's primary key and finds
 * that record when retried.
 */
export async function once<T>(pool: pg.Pool, by: StateWriter, work: Work<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    let open = false;
    try {
      const run = isRunWriter(by) ? by : undefined;
      const head: (string | Statement)[] = [
        "BEGIN",
        run
          ? {
              text: `SELECT lease_token, cancel_requested, ${NOW_MS} AS now FROM runs WHERE id = $1`,
              values: [run.runId],
            }
          : {
              text: `SELECT NULL AS lease_token, false AS cancel_requested, ${NOW_MS} AS now`,
              values: [],
            },
        {
          text: "SELECT fingerprint, result FROM state_ops WHERE run_id = $1 AND step = $2",
          values: [run?.runId ?? "", run?.step ?? ""],
        },
        ...work.first,
      ];
      open = true;
      const results = await send(client, head);
      const fence = results[1]?.rows[0];
      const now = Number(fence?.now ?? Date.now());
      if (run) {
        if (!fence) throw new NotFoundError("run", run.runId);
        if (fence.lease_token !== run.leaseToken) throw new LeaseLostError(run.runId);
        const op = results[2]?.rows[0];
        if (op) {
          await rollback(client);
          open = false;
          return recorded(run, op.fingerprint as string, op.result as Json) as T;
        }
        if (fence.cancel_requested) throw new CancelledError(run.runId);
      }
      const done = work.finish(
        results.slice(3).map((r) => r.rows),
        now,
      );
      const record: Statement[] =
        run && done.record
          ? [
              {
                text: "INSERT INTO state_ops (run_id, step, fingerprint, result, at) VALUES ($1, $2, $3, $4, $5)",
                values: [run.runId, run.step, run.fingerprint, JSON.stringify(done.result), now],
              },
            ]
          : [];
      const tail = await send(client, [...done.writes, ...record, "COMMIT"]);
      open = false;
      // Only an aborted transaction answers COMMIT with ROLLBACK.
      if (tail.at(-1)?.command !== "COMMIT")
        throw new Error("a state write's transaction was rolled back");
      return done.result;
    } catch (err) {
      if (open) broken = await rollback(client);
      const code = (err as { code?: unknown }).code;
      if (attempt < 5 && typeof code === "string" && RETRYABLE.has(code)) continue;
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

/** Sends statements together (one round trip); rejects with the first one's error. */
export async function send(
  client: pg.PoolClient,
  items: (string | Statement)[],
): Promise<pg.QueryResult<Row>[]> {
  const settled = await Promise.allSettled(
    items.map((s) =>
      typeof s === "string" ? client.query<Row>(s) : client.query<Row>(prepared(s)),
    ),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<pg.QueryResult<Row>>).value);
}

/** Rolls back; returns an error when the connection cannot even do that (it must not be reused). */
export async function rollback(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query("ROLLBACK");
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

export function historyRow(
  at: StateKey,
  version: number,
  op: string,
  input: Json | undefined,
  by: StateWriter,
  verified: boolean,
  now: number,
): Statement {
  const who = writerColumns(by);
  return {
    text: `INSERT INTO state_history (region, scope, key, version, op, input, run_id, step, agent, verified, at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11)`,
    values: [
      at.region,
      at.scope,
      at.key,
      version,
      op,
      json(input),
      who.runId,
      who.step,
      who.agent,
      verified,
      now,
    ],
  };
}
