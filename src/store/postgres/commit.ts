import type pg from "pg";
import {
  CancelledError,
  LeaseLostError,
  NotFoundError,
  PayloadRejectedError,
} from "../../core/errors.js";
import type { Commit } from "../types.js";
import * as deadLetters from "./deadLetters.js";
import * as effects from "./effects.js";
import * as journal from "./journal.js";
import { notifyRunnable } from "./notify.js";
import * as runs from "./runs.js";
import { NOW_MS } from "./sql.js";
import { inTransaction } from "./transaction.js";

/** Deadlock and serialization failures: the batch is retried as a whole. */
const RETRYABLE_CODES = new Set(["40P01", "40001"]);

/**
 * SQLSTATE classes that say the data was refused (22: data exception, e.g.
 * 22P05 "\u0000 cannot be converted to text"; 54: program limit exceeded,
 * e.g. a jsonb too large): one commit's payload, not the connection or the
 * server, so only that commit may fail.
 */
const DATA_CLASSES = new Set(["22", "54"]);

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && code.length === 5 ? code : undefined;
}

/**
 * Applies a batch of commits in one transaction, up to five attempts; returns,
 * per commit, the error that rejected it. When the database refuses data, the
 * batch is applied again with a savepoint per commit, so the commit whose
 * payload was refused fails alone (PayloadRejectedError) and the others land.
 */
export async function applyBatch(pool: pg.Pool, batch: Commit[]): Promise<(Error | undefined)[]> {
  let isolate = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(pool, (c) =>
        isolate ? applyIsolated(c, batch) : applyBatchIn(c, batch),
      );
    } catch (err) {
      const code = sqlState(err);
      if (attempt >= 5 || code === undefined) throw err;
      if (DATA_CLASSES.has(code.slice(0, 2)) && !isolate && batch.length > 1) isolate = true;
      else if (!RETRYABLE_CODES.has(code)) throw rejectedIfData(err);
    }
  }
}

/** A lone commit whose data was refused gets the typed error; anything else stays as it is. */
function rejectedIfData(err: unknown): unknown {
  const code = sqlState(err);
  if (code === undefined || !DATA_CLASSES.has(code.slice(0, 2))) return err;
  return new PayloadRejectedError(
    "commit",
    "",
    `was refused by PostgreSQL (${code}: ${(err as Error).message})`,
  );
}

/**
 * Applies a batch with a fixed number of statements whatever its size: lock
 * the runs involved (in id order, so concurrent batches cannot deadlock on
 * them), check each commit's fence, then insert everything accepted in bulk.
 */
async function applyBatchIn(c: pg.PoolClient, batch: Commit[]): Promise<(Error | undefined)[]> {
  const outcomes = await checkFences(c, batch);
  const ok = batch.filter((_, i) => outcomes[i] === undefined);
  if (await write(c, ok)) await notifyRunnable(c);
  return outcomes;
}

/** The slow path: one savepoint per commit, so a refused payload rejects its own commit only. */
async function applyIsolated(c: pg.PoolClient, batch: Commit[]): Promise<(Error | undefined)[]> {
  const outcomes = await checkFences(c, batch);
  let runnable = false;
  for (const [i, commit] of batch.entries()) {
    if (outcomes[i] !== undefined) continue;
    await c.query("SAVEPOINT one_commit");
    try {
      runnable = (await write(c, [commit])) || runnable;
      await c.query("RELEASE SAVEPOINT one_commit");
    } catch (err) {
      const code = sqlState(err);
      if (code === undefined || !DATA_CLASSES.has(code.slice(0, 2))) throw err;
      await c.query("ROLLBACK TO SAVEPOINT one_commit");
      outcomes[i] = rejectedIfData(err) as Error;
    }
  }
  if (runnable) await notifyRunnable(c);
  return outcomes;
}

/** Writes commits whose fences hold; returns whether runs may have become claimable. */
async function write(c: pg.PoolClient, ok: readonly Commit[]): Promise<boolean> {
  if (ok.length === 0) return false;
  const blobs = ok.flatMap((b) => b.blobs ?? []);
  const newRuns = ok.flatMap((b) => b.newRuns ?? []);
  const events = ok.flatMap((b) => b.events.map((e) => ({ runId: b.runId, ...e })));
  const effectUpdates = ok.flatMap((b) => b.effects ?? []);
  const wake = ok.flatMap((b) => b.wake ?? []);

  await journal.putBlobs(c, blobs);
  await runs.insert(c, newRuns);
  await journal.append(c, events);
  await effects.upsert(c, effectUpdates);
  for (const b of ok) {
    if (b.deadLetter) await deadLetters.insert(c, b.deadLetter);
    if (b.deadLetterUpdate) await deadLetters.update(c, b.deadLetterUpdate);
  }
  const statuses = await runs.applyChanges(c, changesByRun(ok));
  await runs.wake(c, wake);
  return (
    newRuns.length > 0 ||
    wake.length > 0 ||
    statuses.some((s) => s === "pending" || s === "waiting")
  );
}

/** Locks the runs the batch writes or wakes; returns, per commit, the error its fence raises. */
async function checkFences(c: pg.PoolClient, batch: Commit[]): Promise<(Error | undefined)[]> {
  const lockIds = [...new Set(batch.flatMap((b) => [b.runId, ...(b.wake ?? [])]))].sort();
  const { rows } = await c.query<{
    id: string;
    status: string;
    lease_token: string | null;
    leased: boolean;
    cancel_requested: boolean;
  }>(
    `SELECT id, status, lease_token, cancel_requested,
       (lease_token IS NOT NULL AND lease_expires_at >= ${NOW_MS}) AS leased
     FROM runs WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
    [lockIds],
  );
  const locked = new Map(rows.map((r) => [r.id, r]));
  return batch.map((b): Error | undefined => {
    const run = locked.get(b.runId);
    if (!run) return new NotFoundError("run", b.runId);
    if ("leaseToken" in b.fence) {
      if (run.lease_token !== b.fence.leaseToken) return new LeaseLostError(b.runId);
      if (b.fence.requireNotCancelled && run.cancel_requested) return new CancelledError(b.runId);
      return undefined;
    }
    if (run.leased || !b.fence.unleasedIn.includes(run.status as never)) {
      return new LeaseLostError(b.runId);
    }
    return undefined;
  });
}

/** One row per run: UPDATE … FROM applies only one match per target row. */
function changesByRun(ok: readonly Commit[]): runs.RunChange[] {
  const byRun = new Map<string, runs.RunChange>();
  for (const b of ok) {
    if (!b.status && !b.release) continue;
    const prev = byRun.get(b.runId);
    byRun.set(b.runId, {
      runId: b.runId,
      status: b.status ?? prev?.status,
      release: (prev?.release ?? false) || b.release === true,
    });
  }
  return [...byRun.values()];
}
