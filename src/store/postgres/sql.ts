import type { QueryResult, QueryResultRow } from "pg";

export type Row = Record<string, unknown>;

/** The pool, or a pooled client inside a transaction: anything a statement can run on. */
export interface Queryable {
  query<R extends QueryResultRow = Row>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** Milliseconds since the epoch on the database's clock: leases compare against one clock. */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** One parameterised statement, built before it is sent (so a batch can be pipelined). */
export interface Statement {
  text: string;
  values: unknown[];
}
