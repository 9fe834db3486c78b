import { createHash } from "node:crypto";
import type { QueryConfig, QueryResult, QueryResultRow } from "pg";

export type Row = Record<string, unknown>;

/** The pool, or a pooled client inside a transaction: anything a statement can run on. */
export interface Queryable {
  query<R extends QueryResultRow = Row>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** Milliseconds since the epoch on the database's clock: leases compare against one clock. */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/**
 * A select-list item that makes the statement's transaction commit
 * asynchronously (that transaction only): the next synchronous commit
 * flushes it (see Commit.deferFlush).
 */
export const DEFERRED_FLUSH = `, (SELECT set_config('synchronous_commit', 'off', true)) AS deferred`;

/** One parameterised statement, built before it is sent (so a batch can be pipelined). */
export interface Statement {
  text: string;
  values: unknown[];
}

const names = new Map<string, string>();

/**
 * The statement as a named prepared statement: each connection parses and
 * plans it once, not on every execution (planning the batch statements costs
 * more than running them). The name is derived from the text, so one name
 * never stands for two texts.
 */
export function prepared(s: Statement): QueryConfig {
  let name = names.get(s.text);
  if (name === undefined) {
    name = `flotilla_${createHash("sha1").update(s.text).digest("hex").slice(0, 20)}`;
    names.set(s.text, name);
  }
  return { name, text: s.text, values: s.values };
}
