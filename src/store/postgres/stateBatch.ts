import type pg from "pg";
import { CancelledError, LeaseLostError, NotFoundError } from "../../core/errors.js";
import type { Json } from "../../core/json.js";
import type { StateWriteRequest } from "../stateBatcher.js";
import { nextRow, recorded, writerColumns } from "../stateApply.js";
import { isRunWriter, type StateKey, type StateWriteOutcome } from "../stateTypes.js";
import { CHANNEL } from "./notify.js";
import { NOW_MS, type Row, type Statement } from "./sql.js";
import { toValue, valueRow } from "./state.js";
import { json, RETRYABLE, rollback, send } from "./stateTransaction.js";

const keyId = (at: StateKey) => JSON.stringify([at.region, at.scope, at.key]);
const stepId = (runId: string, step: string) => `${runId}\u0000${step}`;

/**
 * Applies a batch of writes in order in one transaction, in two round trips:
 * the first takes every key's row lock (placeholders inserted, rows locked in
 * key order, so two batches never wait on each other in a cycle) and reads
 * the runs' fences and the steps already recorded; the writes are then
 * computed in JS (the same code as SQLite's) and sent with COMMIT. A write
 * refused (lease lost, cancel requested, reducer error) fails alone. The
 * whole batch is retried on a deadlock, a serialization failure, or a step
 * recorded meanwhile by another process's execution of it.
 */
export async function writeBatch(
  pool: pg.Pool,
  batch: readonly StateWriteRequest[],
): Promise<(StateWriteOutcome | Error)[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptBatch(pool, batch);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt < 5 && typeof code === "string" && RETRYABLE.has(code)) continue;
      throw err;
    }
  }
}

async function attemptBatch(
  pool: pg.Pool,
  batch: readonly StateWriteRequest[],
): Promise<(StateWriteOutcome | Error)[]> {
  const keys = [...new Map(batch.map((r) => [keyId(r.at), r.at])).values()];
  const cols = [keys.map((k) => k.region), keys.map((k) => k.scope), keys.map((k) => k.key)];
  const writers = batch.map((r) => r.by).filter(isRunWriter);
  const client = await pool.connect();
  let broken: Error | undefined;
  let open = true;
  try {
    const results = await send(client, [
      "BEGIN",
      { text: `SELECT ${NOW_MS} AS now`, values: [] },
      {
        text: "SELECT id, lease_token, cancel_requested FROM runs WHERE id = ANY($1::text[])",
        values: [[...new Set(writers.map((w) => w.runId))]],
      },
      {
        text: `SELECT o.run_id, o.step, o.fingerprint, o.result FROM state_ops o
           JOIN unnest($1::text[], $2::text[]) AS t(run_id, step) USING (run_id, step)`,
        values: [writers.map((w) => w.runId), writers.map((w) => w.step)],
      },
      // The placeholders give concurrent first writes a row to queue on.
      {
        text: `INSERT INTO state_values (region, scope, key, version, at)
           SELECT r, s, k, 0, 0 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(r, s, k)
           ORDER BY r, s, k ON CONFLICT DO NOTHING`,
        values: cols,
      },
      {
        text: `SELECT v.* FROM state_values v
           JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(r, s, k)
             ON v.region = t.r AND v.scope = t.s AND v.key = t.k
           ORDER BY v.region, v.scope, v.key FOR UPDATE OF v`,
        values: cols,
      },
    ]);
    const now = Number(results[1]?.rows[0]?.now);
    const applied = apply(batch, results, now);
    if (applied.writes.length === 0) {
      open = false;
      broken = await rollback(client);
      return applied.outcomes;
    }
    const tail = await send(client, [...applied.writes, "COMMIT"]);
    open = false;
    // Only an aborted transaction answers COMMIT with ROLLBACK.
    if (tail.at(-1)?.command !== "COMMIT")
      throw new Error("a batch of state writes was rolled back");
    return applied.outcomes;
  } catch (err) {
    if (open) broken = await rollback(client);
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Decides each write in order against the locked rows; returns the outcomes and the statements. */
function apply(
  batch: readonly StateWriteRequest[],
  results: pg.QueryResult<Row>[],
  now: number,
): { outcomes: (StateWriteOutcome | Error)[]; writes: Statement[] } {
  const fences = new Map((results[2]?.rows ?? []).map((r) => [r.id as string, r]));
  const steps = new Map(
    (results[3]?.rows ?? []).map((r) => [
      stepId(r.run_id as string, r.step as string),
      { fingerprint: r.fingerprint as string, result: r.result as Json },
    ]),
  );
  const rows = new Map(
    (results[5]?.rows ?? []).map((r) => [
      keyId({ region: r.region as string, scope: r.scope as string, key: r.key as string }),
      r,
    ]),
  );
  const changed = new Set<string>();
  const history: unknown[][] = [];
  const records: unknown[][] = [];
  const outcomes = batch.map(({ at, write: w, by }): StateWriteOutcome | Error => {
    try {
      if (isRunWriter(by)) {
        const fence = fences.get(by.runId);
        if (!fence) throw new NotFoundError("run", by.runId);
        if (fence.lease_token !== by.leaseToken) throw new LeaseLostError(by.runId);
        const done = steps.get(stepId(by.runId, by.step));
        if (done)
          return recorded(by, done.fingerprint, done.result) as unknown as StateWriteOutcome;
        if (fence.cancel_requested) throw new CancelledError(by.runId);
      }
      const id = keyId(at);
      const cur = rows.get(id);
      const next = nextRow(valueRow(cur), w);
      if (!next) return { ok: false, current: toValue(at, cur) };
      const who = writerColumns(by);
      rows.set(id, {
        ...at,
        run_id: who.runId,
        step: who.step,
        agent: who.agent,
        version: next.version,
        value: next.value,
        all_verified: next.allVerified,
        verified_value: next.verifiedValue,
        verified_version: next.verifiedVersion,
        verified: w.verified,
        at: now,
      });
      changed.add(id);
      history.push([
        at.region,
        at.scope,
        at.key,
        next.version,
        w.op,
        json(w.input),
        who.runId,
        who.step,
        who.agent,
        w.verified,
      ]);
      const result: StateWriteOutcome = { ok: true, version: next.version, at: now };
      if (isRunWriter(by)) {
        records.push([by.runId, by.step, by.fingerprint, JSON.stringify(result)]);
        steps.set(stepId(by.runId, by.step), {
          fingerprint: by.fingerprint,
          result: result,
        });
      }
      return result;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
  if (changed.size === 0) return { outcomes, writes: [] };
  const final = [...changed].map((id) => rows.get(id) as Row);
  const column = (f: (r: Row) => unknown) => final.map(f);
  const field = (rowsOf: unknown[][], i: number) => rowsOf.map((r) => r[i]);
  const writes: Statement[] = [
    {
      text: `UPDATE state_values v SET version = t.version, value = t.value, all_verified = t.all_verified,
           verified_value = t.verified_value, verified_version = t.verified_version, run_id = t.run_id,
           step = t.step, agent = t.agent, verified = t.verified, at = $13
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[], $6::boolean[],
           $7::jsonb[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::boolean[])
           AS t(region, scope, key, version, value, all_verified, verified_value, verified_version,
             run_id, step, agent, verified)
         WHERE v.region = t.region AND v.scope = t.scope AND v.key = t.key`,
      values: [
        column((r) => r.region),
        column((r) => r.scope),
        column((r) => r.key),
        column((r) => r.version),
        column((r) => json(r.value as Json | undefined)),
        column((r) => r.all_verified),
        column((r) =>
          r.verified_version === null ? null : json(r.verified_value as Json | undefined),
        ),
        column((r) => r.verified_version),
        column((r) => r.run_id),
        column((r) => r.step),
        column((r) => r.agent),
        column((r) => r.verified),
        now,
      ],
    },
    {
      text: `INSERT INTO state_history (region, scope, key, version, op, input, run_id, step, agent, verified, at)
         SELECT region, scope, key, version, op, input, run_id, step, agent, verified, $11
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::jsonb[],
           $7::text[], $8::text[], $9::text[], $10::boolean[])
           AS t(region, scope, key, version, op, input, run_id, step, agent, verified)`,
      values: [...Array.from({ length: 10 }, (_, i) => field(history, i)), now],
    },
    // The runs watching a key whose version a write passed wake up, and idle workers hear of it.
    {
      text: `WITH w AS (
           DELETE FROM state_watches s USING unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
             AS t(region, scope, key, version)
           WHERE s.region = t.region AND s.scope = t.scope AND s.key = t.key AND s.after_version < t.version
           RETURNING s.run_id),
         u AS (
           UPDATE runs SET wake_requested = true, updated_at = $5,
             status = CASE WHEN status = 'waiting' THEN 'pending' ELSE status END
           WHERE id IN (SELECT run_id FROM w) RETURNING id)
         SELECT pg_notify('${CHANNEL}', 'runnable') FROM (SELECT 1 FROM u LIMIT 1) x`,
      values: [
        column((r) => r.region),
        column((r) => r.scope),
        column((r) => r.key),
        column((r) => r.version),
        now,
      ],
    },
  ];
  if (records.length > 0)
    writes.push({
      text: `INSERT INTO state_ops (run_id, step, fingerprint, result, at)
         SELECT run_id, step, fingerprint, result, $5
         FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS t(run_id, step, fingerprint, result)`,
      values: [...Array.from({ length: 4 }, (_, i) => field(records, i)), now],
    });
  return { outcomes, writes };
}
