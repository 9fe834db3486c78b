import type Database from "better-sqlite3";
import { CancelledError, LeaseLostError, NotFoundError } from "../../core/errors.js";
import { parseJson, type Json } from "../../core/json.js";
import { nextRow, provenanceOf, recorded, writerColumns, type ValueRow } from "../stateApply.js";
import {
  isRunWriter,
  type ClaimedItem,
  type ClaimItemInput,
  type ClaimItemRecord,
  type ClaimSettle,
  type ClaimSettled,
  type ClaimStatus,
  type RunStateWriter,
  type StateHistoryEntry,
  type StateKey,
  type StateRegionRecord,
  type StateValue,
  type StateWriteOutcome,
  type StateWriter,
} from "../stateTypes.js";
import type { StateWriteRequest } from "../stateBatcher.js";
import { TERMINAL_STATUSES } from "../types.js";
import type { Announce } from "./announce.js";
import * as runs from "./runs.js";
import { failedAlone, prepared, type Row } from "./sql.js";

const fenceOf = prepared("SELECT lease_token, cancel_requested FROM runs WHERE id = ?");
const opOf = prepared("SELECT fingerprint, result FROM state_ops WHERE run_id = ? AND step = ?");
const recordOp = prepared(
  "INSERT INTO state_ops (run_id, step, fingerprint, result, at) VALUES (?, ?, ?, ?, ?)",
);
const declare = prepared(
  `INSERT INTO state_regions (name, isolation, reducer, declared_at) VALUES (?, ?, ?, ?)
   ON CONFLICT (name) DO NOTHING`,
);
const regionOf = prepared("SELECT name, isolation, reducer FROM state_regions WHERE name = ?");
const valueOf = prepared("SELECT * FROM state_values WHERE region = ? AND scope = ? AND key = ?");
const putValue = prepared(
  `INSERT INTO state_values (region, scope, key, version, value, all_verified, verified_value,
     verified_version, run_id, step, agent, verified, at)
   VALUES (@region, @scope, @key, @version, @value, @allVerified, @verifiedValue,
     @verifiedVersion, @runId, @step, @agent, @verified, @at)
   ON CONFLICT (region, scope, key) DO UPDATE SET version = excluded.version,
     value = excluded.value, all_verified = excluded.all_verified,
     verified_value = excluded.verified_value, verified_version = excluded.verified_version,
     run_id = excluded.run_id, step = excluded.step, agent = excluded.agent,
     verified = excluded.verified, at = excluded.at`,
);
const addHistory = prepared(
  `INSERT INTO state_history (region, scope, key, version, op, input, run_id, step, agent, verified, at)
   VALUES (@region, @scope, @key, @version, @op, @input, @runId, @step, @agent, @verified, @at)`,
);
const historyAt = prepared(
  "SELECT * FROM state_history WHERE region = ? AND scope = ? AND key = ? AND version = ?",
);
const historyOf = prepared(
  `SELECT * FROM state_history WHERE region = ? AND scope = ? AND key = ? AND version > ?
   ORDER BY version LIMIT ?`,
);
const wokenBy = prepared(
  `DELETE FROM state_watches WHERE region = ? AND scope = ? AND key = ? AND after_version < ?
   RETURNING run_id`,
);
const addWatch = prepared(
  `INSERT INTO state_watches (region, scope, key, run_id, step, after_version) VALUES (?, ?, ?, ?, ?, ?)
   ON CONFLICT DO UPDATE SET after_version = excluded.after_version`,
);
const lastSeq = prepared("SELECT coalesce(max(seq), 0) AS seq FROM state_claims WHERE region = ?");
const putItem = prepared(
  `INSERT INTO state_claims (region, item, seq, value, status, version, updated_at)
   VALUES (?, ?, ?, ?, 'open', 1, ?) ON CONFLICT DO NOTHING`,
);
const ended = TERMINAL_STATUSES.map((s) => `'${s}'`).join(", ");
const available = prepared(
  `SELECT c.* FROM state_claims c LEFT JOIN runs r ON r.id = c.holder_run
   WHERE c.region = ? AND c.status IN ('open', 'leased')
     AND (c.status = 'open' OR c.lease_expires_at <= ? OR r.id IS NULL OR r.status IN (${ended}))
   ORDER BY c.seq LIMIT 1`,
);
const lease = prepared(
  `UPDATE state_claims SET status = 'leased', holder_run = ?, lease_expires_at = ?,
     attempts = attempts + 1, version = version + 1, updated_at = ?
   WHERE region = ? AND item = ? RETURNING *`,
);
const itemOf = prepared("SELECT * FROM state_claims WHERE region = ? AND item = ?");
const settleItem = prepared(
  `UPDATE state_claims SET status = @status, holder_run = @holder, lease_expires_at = NULL,
     result = @result, version = version + 1, updated_at = @at
   WHERE region = @region AND item = @item RETURNING version`,
);
const itemsOf = prepared("SELECT * FROM state_claims WHERE region = ? ORDER BY seq");

/**
 * Runs a write in one immediate transaction: a run's write is fenced by its
 * lease, refused once its run is asked to cancel, and applied once per (run,
 * step): a step that wrote before gets its recorded result back. `work` says
 * whether its result is a write to record (a refusal is not).
 */
function once<T>(
  db: Database.Database,
  by: StateWriter,
  work: (now: number) => { result: T; record: boolean },
): T {
  return db
    .transaction((): T => {
      const now = Date.now();
      if (isRunWriter(by)) {
        const run = fenceOf(db).get(by.runId) as Row | undefined;
        if (!run) throw new NotFoundError("run", by.runId);
        if (run.lease_token !== by.leaseToken) throw new LeaseLostError(by.runId);
        const op = opOf(db).get(by.runId, by.step) as Row | undefined;
        if (op)
          return recorded(
            by,
            op.fingerprint as string,
            JSON.parse(op.result as string) as Json,
          ) as T;
        if (run.cancel_requested) throw new CancelledError(by.runId);
      }
      const { result, record } = work(now);
      if (record && isRunWriter(by))
        recordOp(db).run(by.runId, by.step, by.fingerprint, JSON.stringify(result), now);
      return result;
    })
    .immediate();
}

export function declareRegion(db: Database.Database, r: StateRegionRecord): StateRegionRecord {
  declare(db).run(r.name, r.isolation, r.reducer, Date.now());
  const row = regionOf(db).get(r.name) as Row;
  return {
    name: row.name as string,
    isolation: row.isolation as StateRegionRecord["isolation"],
    reducer: (row.reducer as string | null) ?? null,
  };
}

function valueRow(row: Row | undefined): ValueRow | undefined {
  if (!row) return undefined;
  return {
    version: Number(row.version),
    value: parseJson(row.value as string | null),
    allVerified: Boolean(row.all_verified),
    verifiedValue: parseJson(row.verified_value as string | null),
    verifiedVersion: row.verified_version === null ? null : Number(row.verified_version),
  };
}

const text = (v: Json | undefined) => (v === undefined ? null : JSON.stringify(v));

/**
 * Applies a batch of writes in order, in one immediate transaction (one
 * flush for the batch), each in a savepoint of its own: a write refused
 * (fence, reducer error) fails alone.
 */
export function writeBatch(
  db: Database.Database,
  batch: readonly StateWriteRequest[],
  announce: Announce,
): (StateWriteOutcome | Error)[] {
  let woken = false;
  const outcomes = db
    .transaction(() =>
      batch.map(({ at, write: w, by }) => {
        try {
          return once<StateWriteOutcome>(db, by, (now) => {
            const cur = valueOf(db).get(at.region, at.scope, at.key) as Row | undefined;
            const next = nextRow(valueRow(cur), w);
            if (!next) return { result: { ok: false, current: toValue(at, cur) }, record: false };
            const who = writerColumns(by);
            putValue(db).run({
              ...at,
              ...who,
              version: next.version,
              value: text(next.value),
              allVerified: next.allVerified ? 1 : 0,
              verifiedValue: text(next.verifiedValue),
              verifiedVersion: next.verifiedVersion,
              verified: w.verified ? 1 : 0,
              at: now,
            });
            addHistory(db).run({
              ...at,
              ...who,
              version: next.version,
              op: w.op,
              input: JSON.stringify(w.input),
              verified: w.verified ? 1 : 0,
              at: now,
            });
            for (const r of wokenBy(db).all(at.region, at.scope, at.key, next.version) as Row[]) {
              runs.wake(db, r.run_id as string, now);
              woken = true;
            }
            return { result: { ok: true, version: next.version, at: now }, record: true };
          });
        } catch (err) {
          return failedAlone(db, err);
        }
      }),
    )
    .immediate();
  if (woken) announce.runnable();
  return outcomes;
}

function toValue(at: StateKey, row: Row | undefined): StateValue | undefined {
  if (!row || Number(row.version) === 0) return undefined;
  return {
    key: at.key,
    value: parseJson(row.value as string) as Json,
    version: Number(row.version),
    verified: Boolean(row.all_verified),
    writtenBy: provenanceOf(row),
  };
}

export function read(
  db: Database.Database,
  at: StateKey,
  options: { verified?: boolean } = {},
): StateValue | undefined {
  const row = valueOf(db).get(at.region, at.scope, at.key) as Row | undefined;
  if (!options.verified) return toValue(at, row);
  if (!row || row.verified_version === null) return undefined;
  const h = historyAt(db).get(at.region, at.scope, at.key, row.verified_version) as Row;
  return {
    key: at.key,
    value: parseJson(row.verified_value as string) as Json,
    version: Number(row.verified_version),
    verified: true,
    writtenBy: provenanceOf(h),
  };
}

export function history(
  db: Database.Database,
  at: StateKey,
  options: { afterVersion?: number; limit?: number } = {},
): StateHistoryEntry[] {
  const rows = historyOf(db).all(
    at.region,
    at.scope,
    at.key,
    options.afterVersion ?? 0,
    options.limit ?? -1,
  ) as Row[];
  return rows.map((r) => ({
    version: Number(r.version),
    op: r.op as string,
    input: parseJson(r.input as string | null) ?? null,
    by: provenanceOf(r),
  }));
}

export function watch(
  db: Database.Database,
  at: StateKey,
  watcher: { runId: string; step: string },
  afterVersion: number,
): StateValue | undefined {
  return db
    .transaction(() => {
      const found = toValue(at, valueOf(db).get(at.region, at.scope, at.key) as Row | undefined);
      if (found && found.version > afterVersion) return found;
      addWatch(db).run(at.region, at.scope, at.key, watcher.runId, watcher.step, afterVersion);
      return undefined;
    })
    .immediate();
}

export function putItems(
  db: Database.Database,
  region: string,
  items: readonly ClaimItemInput[],
  by: StateWriter,
): { added: number } {
  return once(db, by, (now) => {
    let seq = Number((lastSeq(db).get(region) as Row).seq);
    let added = 0;
    const who = writerColumns(by);
    for (const item of items) {
      if (putItem(db).run(region, item.id, ++seq, JSON.stringify(item.value), now).changes === 0)
        continue;
      added++;
      addHistory(db).run({
        ...who,
        region,
        scope: "",
        key: item.id,
        version: 1,
        op: "put",
        input: JSON.stringify(item.value),
        verified: 0,
        at: now,
      });
    }
    return { result: { added }, record: true };
  });
}

export function take(
  db: Database.Database,
  region: string,
  leaseMs: number,
  by: RunStateWriter,
): ClaimedItem | null {
  return once<ClaimedItem | null>(db, by, (now) => {
    const free = available(db).get(region, now) as Row | undefined;
    if (!free) return { result: null, record: true };
    const row = lease(db).get(by.runId, now + leaseMs, now, region, free.item) as Row;
    addHistory(db).run({
      ...writerColumns(by),
      region,
      scope: "",
      key: row.item as string,
      version: Number(row.version),
      op: "take",
      input: null,
      verified: 0,
      at: now,
    });
    return {
      result: {
        id: row.item as string,
        value: JSON.parse(row.value as string) as Json,
        attempt: Number(row.attempts),
        leaseExpiresAt: Number(row.lease_expires_at),
      },
      record: true,
    };
  });
}

export function settle(
  db: Database.Database,
  region: string,
  item: string,
  how: ClaimSettle,
  by: StateWriter,
): ClaimSettled {
  return once<ClaimSettled>(db, by, (now) => {
    const row = itemOf(db).get(region, item) as Row | undefined;
    if (!row) return { result: { ok: false, status: "missing", holder: null }, record: false };
    const holder = (row.holder_run as string | null) ?? null;
    if (isRunWriter(by) && (row.status !== "leased" || holder !== by.runId))
      return {
        result: { ok: false, status: row.status as ClaimStatus, holder },
        record: false,
      };
    const done = how.kind === "done";
    const { version } = settleItem(db).get({
      region,
      item,
      status: done ? "done" : "open",
      holder: done ? holder : null,
      result: done ? JSON.stringify(how.result) : null,
      at: now,
    }) as Row;
    addHistory(db).run({
      ...writerColumns(by),
      region,
      scope: "",
      key: item,
      version: Number(version),
      op: how.kind,
      input: done ? JSON.stringify(how.result) : null,
      verified: 0,
      at: now,
    });
    return { result: { ok: true }, record: true };
  });
}

export function listItems(db: Database.Database, region: string): ClaimItemRecord[] {
  return (itemsOf(db).all(region) as Row[]).map((r) => ({
    id: r.item as string,
    value: JSON.parse(r.value as string) as Json,
    status: r.status as ClaimStatus,
    holder: (r.holder_run as string | null) ?? null,
    attempts: Number(r.attempts),
    leaseExpiresAt: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
    result: parseJson(r.result as string | null),
  }));
}
