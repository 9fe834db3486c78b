import type pg from "pg";
import { CancelledError, LeaseLostError, NotFoundError } from "../../core/errors.js";
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
 * Applies a batch of commits in one transaction, up to five attempts; returns,
 * per commit, the error that rejected it.
 */
export async function applyBatch(pool: pg.Pool, batch: Commit[]): Promise<(Error | undefined)[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(pool, (c) => applyBatchIn(c, batch));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 5 || !code || !RETRYABLE_CODES.has(code)) throw err;
    }
  }
}

/**
 * Applies a batch with a fixed number of statements whatever its size: lock
 * the runs involved (in id order, so concurrent batches cannot deadlock on
 * them), check each commit's fence, then insert everything accepted in bulk.
 */
async function applyBatchIn(c: pg.PoolClient, batch: Commit[]): Promise<(Error | undefined)[]> {
  const outcomes = await checkFences(c, batch);
  const ok = batch.filter((_, i) => outcomes[i] === undefined);
  if (ok.length === 0) return outcomes;

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
  const runnable =
    newRuns.length > 0 ||
    wake.length > 0 ||
    statuses.some((s) => s === "pending" || s === "waiting");
  if (runnable) await notifyRunnable(c);
  return outcomes;
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
