import type pg from "pg";
import { prepared, type Statement } from "./sql.js";

/** Whether an error came from the server (it has a SQLSTATE), so the connection is still sound. */
function fromServer(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && code.length === 5;
}

/**
 * Sends statements on one connection without waiting for each reply (the
 * pool's clients run in pipeline mode): n statements cost one round trip.
 * Each runs in its own implicit transaction unless `transaction` wraps them
 * in one, which then commits only if every statement succeeded. Rejects with
 * the first statement's error; a connection that failed other than by a
 * server error is discarded, not returned to the pool.
 */
export async function pipeline(
  pool: pg.Pool,
  statements: readonly Statement[],
  transaction = false,
): Promise<pg.QueryResult[]> {
  const client = await pool.connect();
  const texts = transaction ? ["BEGIN", ...statements, "COMMIT"] : statements;
  const settled = await Promise.allSettled(
    texts.map((s) => (typeof s === "string" ? client.query(s) : client.query(prepared(s)))),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const broken = settled.some((r) => r.status === "rejected" && !fromServer(r.reason));
  client.release(broken ? new Error("the connection failed mid-pipeline") : undefined);
  if (failed) throw failed.reason;
  const results = settled.map((r) => (r as PromiseFulfilledResult<pg.QueryResult>).value);
  if (!transaction) return results;
  const commit = results.at(-1)?.command;
  // Only an aborted transaction answers COMMIT with ROLLBACK, and then a statement failed.
  if (commit !== "COMMIT") throw new Error(`the transaction ended in ${commit}, not COMMIT`);
  return results.slice(1, -1);
}
