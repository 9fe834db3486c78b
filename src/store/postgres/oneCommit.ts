import { toJsonText } from "../rows.js";
import { defersFlush, type Commit, type EffectUpdate, type NewEvent } from "../types.js";
import { byToolAndKey, EFFECT_CONFLICT, INSERT_EFFECT } from "./effects.js";
import { INSERT_EVENT } from "./journal.js";
import { announcements, CHANNEL } from "./notify.js";
import { CHANGE_SET } from "./runs.js";
import { DEFERRED_FLUSH, NOW_MS, type Statement } from "./sql.js";

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
 * Whether a lone commit only journals one event under its lease (a read
 * step's): nothing else to write, no status, notification or deferred flush.
 */
export function onlyOneEvent(c: Commit): boolean {
  return (
    c.events.length === 1 &&
    (c.effects?.length ?? 0) === 0 &&
    (c.blobs?.length ?? 0) === 0 &&
    !c.status &&
    !c.release &&
    !defersFlush([c]) &&
    "leaseToken" in c.fence
  );
}

/**
 * The statement for a commit of `onlyOneEvent`: one INSERT … SELECT from the
 * run's row, locked while its lease token holds (and, when asked, no cancel
 * is requested), as `oneCommitStatement` locks it; without that statement's
 * CTE and the scan of its result, a step costs PostgreSQL about 0.02 ms less.
 * The fence held if it inserted the row (its row count).
 */
export function oneEventStatement(c: Commit): Statement {
  const [event] = c.events;
  if (!event || !("leaseToken" in c.fence)) throw new Error("a lone event under a lease token");
  const cancelled = c.fence.requireNotCancelled ? " AND NOT cancel_requested" : "";
  return {
    text: `${INSERT_EVENT} SELECT $1, $3::text, $4::text, $5::jsonb, ${NOW_MS}
      FROM runs WHERE id = $1 AND lease_token = $2${cancelled} FOR UPDATE`,
    values: [
      c.runId,
      c.fence.leaseToken,
      event.type,
      event.step ?? null,
      JSON.stringify(event.data),
    ],
  };
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
  /**
   * What `items` are selected as, from `l` (so nothing is written unless the
   * fence held): one item's values bound directly, several as a VALUES list
   * kept in their order (a list and its sort cost a lone row about 0.015 ms).
   */
  const rows = <T>(items: readonly T[], columns: [string, (item: T) => unknown, string][]) => {
    const bound = (item: T) => columns.map(([, get, type]) => bind(get(item), type)).join(", ");
    const [only] = items;
    if (items.length === 1 && only !== undefined)
      return { select: bound(only), from: "l", order: "" };
    const names = columns.map(([name]) => name);
    const list = items.map((item, i) => `(${bound(item)}, ${i})`).join(", ");
    return {
      select: names.map((n) => `v.${n}`).join(", "),
      from: `l, (VALUES ${list}) AS v(${names.join(", ")}, ord)`,
      order: "ORDER BY v.ord",
    };
  };
  const cancelled = c.fence.requireNotCancelled ? " AND NOT cancel_requested" : "";
  const parts = [
    `l AS (SELECT id FROM runs WHERE id = $1 AND lease_token = $2${cancelled} FOR UPDATE)`,
  ];
  if (c.events.length > 0) {
    const r = rows<NewEvent>(c.events, [
      ["type", (e) => e.type, "text"],
      ["step", (e) => e.step ?? null, "text"],
      ["data", (e) => JSON.stringify(e.data), "jsonb"],
    ]);
    parts.push(
      `ev AS (${INSERT_EVENT} SELECT $1, ${r.select}, ${NOW_MS} FROM ${r.from} ${r.order})`,
    );
  }
  const effects = [...(c.effects ?? [])].sort(byToolAndKey);
  if (effects.length > 0) {
    const r = rows<EffectUpdate>(effects, [
      ["key", (e) => e.key, "text"],
      ["run_id", (e) => e.runId, "text"],
      ["step", (e) => e.step, "text"],
      ["tool", (e) => e.tool, "text"],
      ["state", (e) => e.state, "text"],
      ["result", (e) => toJsonText(e.result), "jsonb"],
    ]);
    parts.push(`ef AS (${INSERT_EFFECT}
       SELECT ${r.select}, ${NOW_MS} FROM ${r.from} ${r.order} ${EFFECT_CONFLICT})`);
  }
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
  const deferred = defersFlush([c]) ? DEFERRED_FLUSH : "";
  return { text: `WITH ${parts.join(",\n")}\nSELECT 1 AS i${notify}${deferred} FROM l`, values };
}
