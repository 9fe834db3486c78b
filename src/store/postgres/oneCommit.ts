import { toJsonText } from "../rows.js";
import { defersFlush, type Commit, type EffectUpdate, type NewEvent } from "../types.js";
import { byToolAndKey, EFFECT_CONFLICT, INSERT_EFFECT } from "./effects.js";
import { INSERT_EVENT } from "./journal.js";
import { announcements, CHANNEL } from "./notify.js";
import { CHANGE_SET } from "./runs.js";
import { NOW_MS, type Statement } from "./sql.js";

/** Events or effect states a lone commit binds one by one; more go through the batch statement. */
const MAX_ROWS = 8;

/**
 * Whether a step commit alone in its batch may be written by
 * `oneCommitStatement`: no payload blobs (they go by content hash, with the
 * batch statement) and a few rows at most, so the statement's texts, one
 * prepared per shape, stay few.
 */
export function fitsOneCommit(c: Commit): boolean {
  return (
    (c.blobs?.length ?? 0) === 0 &&
    c.events.length <= MAX_ROWS &&
    (c.effects?.length ?? 0) <= MAX_ROWS
  );
}

/**
 * The statement for a step commit alone in its batch, the sequential run's
 * case: the same fence and writes as the batch statement (stepCommit.ts),
 * with every value bound on its own instead of in arrays to unnest and join
 * by position, which cost PostgreSQL about a fifth of a step. It locks the
 * run's row while its lease token still holds (and, when asked, no cancel
 * is requested), writes only if it did, and returns one row if so.
 */
export function oneCommitStatement(c: Commit): Statement {
  if (!("leaseToken" in c.fence)) throw new Error("a step commit is fenced by its lease token");
  const values: unknown[] = [c.runId, c.fence.leaseToken];
  const bind = (value: unknown, type: string) => `$${values.push(value)}::${type}`;
  /** A VALUES list of `items`, each row its columns and its position. */
  const rows = <T>(items: readonly T[], columns: [(item: T) => unknown, string][]) =>
    items
      .map((item, i) => `(${columns.map(([get, type]) => bind(get(item), type)).join(", ")}, ${i})`)
      .join(", ");
  const cancelled = c.fence.requireNotCancelled ? " AND NOT cancel_requested" : "";
  const parts = [
    `l AS (SELECT id FROM runs WHERE id = $1 AND lease_token = $2${cancelled} FOR UPDATE)`,
  ];
  if (c.events.length > 0)
    parts.push(`ev AS (${INSERT_EVENT}
       SELECT $1, v.type, v.step, v.data, ${NOW_MS}
       FROM l, (VALUES ${rows<NewEvent>(c.events, [
         [(e) => e.type, "text"],
         [(e) => e.step ?? null, "text"],
         [(e) => JSON.stringify(e.data), "jsonb"],
       ])}) AS v(type, step, data, ord)
       ORDER BY v.ord)`);
  const effects = [...(c.effects ?? [])].sort(byToolAndKey);
  if (effects.length > 0)
    parts.push(`ef AS (${INSERT_EFFECT}
       SELECT v.key, v.run_id, v.step, v.tool, v.state, v.result, ${NOW_MS}
       FROM l, (VALUES ${rows<EffectUpdate>(effects, [
         [(e) => e.key, "text"],
         [(e) => e.runId, "text"],
         [(e) => e.step, "text"],
         [(e) => e.tool, "text"],
         [(e) => e.state, "text"],
         [(e) => toJsonText(e.result), "jsonb"],
       ])}) AS v(key, run_id, step, tool, state, result, ord)
       ORDER BY v.ord ${EFFECT_CONFLICT})`);
  if (c.status || c.release) {
    const s = c.status;
    parts.push(`st AS (
       UPDATE runs r SET ${CHANGE_SET}
       FROM l, (VALUES ($1::text, ${[
         bind(s?.status ?? null, "text"),
         bind(toJsonText(s?.result), "jsonb"),
         bind(toJsonText(s?.error ?? undefined), "jsonb"),
         bind(s?.wakeAt ?? null, "bigint"),
         bind(c.release === true, "boolean"),
       ].join(", ")})) AS t(id, status, result, error, wake_at, release)
       WHERE r.id = t.id)`);
  }
  const notices = announcements(c);
  // In the select list, the notifications are sent only if the fence held.
  const notify =
    notices.length === 0
      ? ""
      : `, (SELECT count(pg_notify('${CHANNEL}', n.p)) FROM (VALUES ${notices
          .map((p) => `(${bind(p, "text")})`)
          .join(", ")}) AS n(p)) AS notified`;
  const deferred = defersFlush([c])
    ? `, (SELECT set_config('synchronous_commit', 'off', true)) AS deferred`
    : "";
  return { text: `WITH ${parts.join(",\n")}\nSELECT 1 AS i${notify}${deferred} FROM l`, values };
}
