import type pg from "pg";
import { toJsonText } from "../rows.js";
import { defersFlush, type Commit } from "../types.js";
import { byToolAndKey, EFFECT_CONFLICT, INSERT_EFFECT } from "./effects.js";
import { INSERT_EVENT } from "./journal.js";
import { announcements, CHANNEL } from "./notify.js";
import { fitsOneCommit, oneCommitStatement, oneEventStatement, onlyOneEvent } from "./oneCommit.js";
import { CHANGE_SET, changeColumns } from "./runs.js";
import { DEFERRED_FLUSH, NOW_MS, prepared, type Statement } from "./sql.js";

/**
 * Whether a batch is made of a run's own commits only: each fenced by a lease
 * token and writing its events, payloads, effect states (no key twice) and its
 * status or lease (one such change per run), not other runs (new runs,
 * wake-ups) nor dead letters. Those are the steps, suspensions and endings
 * executions write, and one statement writes them.
 */
export function isStepBatch(batch: readonly Commit[]): boolean {
  const keys = new Set<string>();
  const changed = new Set<string>();
  for (const b of batch) {
    if (!("leaseToken" in b.fence) || b.deadLetter || b.deadLetterUpdate) return false;
    if ((b.newRuns?.length ?? 0) > 0 || (b.wake?.length ?? 0) > 0) return false;
    if (b.status || b.release) {
      if (changed.has(b.runId)) return false;
      changed.add(b.runId);
    }
    for (const e of b.effects ?? []) {
      const key = JSON.stringify([e.tool, e.key]);
      if (keys.has(key)) return false;
      keys.add(key);
    }
  }
  return true;
}

/**
 * Writes a batch of step commits in one autocommitted statement: it locks
 * the runs in id order, keeps the commits whose lease token still holds (and,
 * when asked, whose run has no cancel request), and writes only theirs.
 * Resolves with the positions of the commits written; the others did not
 * hold their fence (the caller finds out why).
 */
export async function applyStepBatch(
  pool: pg.Pool,
  batch: readonly Commit[],
): Promise<Set<number>> {
  const [lone] = batch;
  if (batch.length === 1 && lone && onlyOneEvent(lone)) {
    const { rowCount } = await pool.query(prepared(oneEventStatement(lone)));
    return new Set(rowCount ? [0] : []);
  }
  const statement =
    batch.length === 1 && lone && fitsOneCommit(lone)
      ? oneCommitStatement(lone)
      : stepStatement(batch);
  const { rows } = await pool.query<{ i: string }>(prepared(statement));
  return new Set(rows.map((r) => Number(r.i) - 1));
}

/**
 * The statement for a batch, with a part for payloads, effect states, run
 * changes and notifications only when the batch has some (a few texts, each
 * prepared once per connection): empty parts still cost their planning and
 * execution.
 */
export function stepStatement(batch: readonly Commit[]): Statement {
  const token = (b: Commit) => ("leaseToken" in b.fence ? b.fence : undefined);
  const values: unknown[] = [
    batch.map((b) => b.runId),
    batch.map((b) => token(b)?.leaseToken ?? null),
    batch.map((b) => token(b)?.requireNotCancelled === true),
  ];
  /** Placeholders for the next columns, each bound to a list of values. */
  const bind = (...columns: [unknown[], string][]) =>
    columns.map(([column, type]) => `$${values.push(column)}::${type}[]`).join(", ");
  const parts = [
    `c AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[])
         WITH ORDINALITY AS c(run_id, token, not_cancelled, i))`,
    `l AS (
       SELECT id, lease_token, cancel_requested FROM runs WHERE id = ANY($1)
       ORDER BY id FOR UPDATE)`,
    `ok AS (
       SELECT c.i FROM c JOIN l ON l.id = c.run_id AND l.lease_token = c.token
       WHERE NOT (c.not_cancelled AND l.cancel_requested))`,
  ];
  const blobs = new Map<string, Buffer>();
  for (const b of batch) for (const x of b.blobs ?? []) blobs.set(x.hash.toString("hex"), x.data);
  if (blobs.size > 0) {
    const hashes = [...blobs.keys()].sort();
    parts.push(`b AS (
       INSERT INTO blobs (hash, data) SELECT * FROM unnest(${bind(
         [hashes.map((h) => Buffer.from(h, "hex")), "bytea"],
         [hashes.map((h) => blobs.get(h)), "bytea"],
       )}) ON CONFLICT DO NOTHING)`);
  }
  const events = batch.flatMap((b, i) => b.events.map((e) => ({ i: i + 1, runId: b.runId, ...e })));
  if (events.length > 0)
    parts.push(`ev AS (${INSERT_EVENT}
       SELECT e.run_id, e.type, e.step, e.data, ${NOW_MS}
       FROM unnest(${bind(
         [events.map((e) => e.i), "bigint"],
         [events.map((e) => e.runId), "text"],
         [events.map((e) => e.type), "text"],
         [events.map((e) => e.step ?? null), "text"],
         [events.map((e) => JSON.stringify(e.data)), "jsonb"],
       )}) WITH ORDINALITY AS e(i, run_id, type, step, data, ord)
       WHERE e.i IN (SELECT i FROM ok) ORDER BY e.ord)`);
  const effects = batch
    .flatMap((b, i) => (b.effects ?? []).map((e) => ({ i: i + 1, ...e })))
    .sort(byToolAndKey);
  if (effects.length > 0)
    parts.push(`ef AS (${INSERT_EFFECT}
       SELECT t.key, t.run_id, t.step, t.tool, t.state, t.result, ${NOW_MS}
       FROM unnest(${bind(
         [effects.map((e) => e.i), "bigint"],
         [effects.map((e) => e.key), "text"],
         [effects.map((e) => e.runId), "text"],
         [effects.map((e) => e.step), "text"],
         [effects.map((e) => e.tool), "text"],
         [effects.map((e) => e.state), "text"],
         [effects.map((e) => toJsonText(e.result)), "jsonb"],
       )}) WITH ORDINALITY AS t(i, key, run_id, step, tool, state, result, ord)
       WHERE t.i IN (SELECT i FROM ok) ORDER BY t.ord ${EFFECT_CONFLICT})`);
  const changes = batch.flatMap((b, i) =>
    b.status || b.release
      ? [{ i: i + 1, runId: b.runId, status: b.status, release: b.release === true }]
      : [],
  );
  if (changes.length > 0)
    parts.push(`st AS (
       UPDATE runs r SET ${CHANGE_SET}
       FROM unnest(${bind([changes.map((c) => c.i), "bigint"], ...changeColumns(changes))})
         AS t(i, id, status, result, error, wake_at, release)
       WHERE r.id = t.id AND t.i IN (SELECT i FROM ok))`);
  const notices = batch.flatMap((b, i) => announcements(b).map((p) => ({ i: i + 1, p })));
  // An uncorrelated subquery runs once, and only if some commit held its fence.
  const notify =
    notices.length === 0
      ? ""
      : `, (SELECT count(pg_notify('${CHANNEL}', n.p)) FROM unnest(${bind(
          [notices.map((n) => n.i), "bigint"],
          [notices.map((n) => n.p), "text"],
        )}) AS n(i, p) WHERE n.i IN (SELECT i FROM ok)) AS notified`;
  const deferred = defersFlush(batch) ? DEFERRED_FLUSH : "";
  return { text: `WITH ${parts.join(",\n")}\nSELECT i${notify}${deferred} FROM ok`, values };
}
