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
import { announcements, CHANNEL } from "./notify.js";
import { pipeline } from "./pipeline.js";
import { applyStepBatch, isStepBatch } from "./stepCommit.js";
import * as runs from "./runs.js";
import type { Statement } from "./sql.js";
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

/** The SQLSTATE `flotilla_fence` raises when a commit's fence does not hold. */
const FENCE_REFUSED = "FLF01";

/**
 * Applies a batch of commits in one transaction, up to five attempts; returns,
 * per commit, the error that rejected it. A batch of step commits is one
 * statement (see stepCommit.ts). Otherwise the fence check and every write are
 * sent in one round trip; a commit whose fence does not hold aborts that
 * attempt and the batch is sent again without it (fences rarely fail). When
 * the database refuses data, the batch is applied again with a savepoint per
 * commit, so the commit whose payload was refused fails alone
 * (PayloadRejectedError) and the others land.
 */
export async function applyBatch(pool: pg.Pool, batch: Commit[]): Promise<(Error | undefined)[]> {
  const outcomes: (Error | undefined)[] = batch.map(() => undefined);
  let pending = batch.map((_, i) => i);
  let isolate = false;
  let steps = isStepBatch(batch);
  for (let attempt = 1; pending.length > 0; attempt++) {
    const commits = pending.map((i) => batch[i] as Commit);
    try {
      if (steps) {
        // One statement; the commits it did not write failed their fence, and the path below says why.
        const written = await applyStepBatch(pool, commits);
        pending = pending.filter((_, j) => !written.has(j));
        steps = false;
        continue;
      }
      if (isolate) {
        const refused = await inTransaction(pool, (c) => applyIsolated(c, commits));
        refused.forEach((err, j) => (outcomes[pending[j] as number] = err));
      } else await pipeline(pool, [fence(commits, true), ...statements(commits)], true);
      return outcomes;
    } catch (err) {
      const code = sqlState(err);
      if (code === FENCE_REFUSED) {
        const verdicts = JSON.parse((err as { detail: string }).detail) as (string | null)[];
        verdicts.forEach((v, j) => {
          if (v !== null) outcomes[pending[j] as number] = refusal(v, commits[j]?.runId ?? "");
        });
        pending = pending.filter((_, j) => verdicts[j] === null);
        continue;
      }
      if (attempt >= 5 || code === undefined) throw err;
      if (steps && DATA_CLASSES.has(code.slice(0, 2))) steps = false;
      else if (DATA_CLASSES.has(code.slice(0, 2)) && !isolate && pending.length > 1) isolate = true;
      else if (!RETRYABLE_CODES.has(code)) throw rejectedIfData(err);
    }
  }
  return outcomes;
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

function refusal(verdict: string, runId: string): Error {
  if (verdict === "not-found") return new NotFoundError("run", runId);
  if (verdict === "cancelled") return new CancelledError(runId);
  return new LeaseLostError(runId);
}

/** The fence check of a batch: locks the runs it writes or wakes, then checks each commit. */
function fence(batch: readonly Commit[], raise: boolean): Statement {
  const lockIds = [...new Set(batch.flatMap((b) => [b.runId, ...(b.wake ?? [])]))].sort();
  const leased = (b: Commit) => ("leaseToken" in b.fence ? b.fence : undefined);
  return {
    text: "SELECT flotilla_fence($1, $2, $3, $4, $5, $6) AS verdicts",
    values: [
      batch.map((b) => b.runId),
      batch.map((b) => leased(b)?.leaseToken ?? null),
      batch.map((b) => leased(b)?.requireNotCancelled === true),
      batch.map((b) => ("unleasedIn" in b.fence ? b.fence.unleasedIn.join(",") : null)),
      lockIds,
      raise,
    ],
  };
}

/** The slow path: one savepoint per commit, so a refused payload rejects its own commit only. */
async function applyIsolated(c: pg.PoolClient, batch: Commit[]): Promise<(Error | undefined)[]> {
  const check = fence(batch, false);
  const { rows } = await c.query<{ verdicts: (string | null)[] }>(check.text, check.values);
  const outcomes = (rows[0]?.verdicts ?? []).map((v, i) =>
    v === null ? undefined : refusal(v, batch[i]?.runId ?? ""),
  );
  for (const [i, commit] of batch.entries()) {
    if (outcomes[i] !== undefined) continue;
    await c.query("SAVEPOINT one_commit");
    try {
      for (const s of statements([commit])) await c.query(s.text, s.values);
      await c.query("RELEASE SAVEPOINT one_commit");
    } catch (err) {
      const code = sqlState(err);
      if (code === undefined || !DATA_CLASSES.has(code.slice(0, 2))) throw err;
      await c.query("ROLLBACK TO SAVEPOINT one_commit");
      outcomes[i] = rejectedIfData(err) as Error;
    }
  }
  return outcomes;
}

/**
 * The writes of commits whose fences hold, a fixed number of statements
 * whatever the batch's size, each built before any is sent; ends with the
 * notifications the batch owes (runs that may have become claimable, runs
 * that settled).
 */
function statements(ok: readonly Commit[]): Statement[] {
  const newRuns = ok.flatMap((b) => b.newRuns ?? []);
  const out = [
    journal.putBlobs(ok.flatMap((b) => b.blobs ?? [])),
    newRuns.length > 0 ? runs.insert(newRuns) : undefined,
    journal.append(ok.flatMap((b) => b.events.map((e) => ({ runId: b.runId, ...e })))),
    ...effects.upsert(ok.flatMap((b) => b.effects ?? [])),
    ...ok.flatMap((b) => [
      b.deadLetter && deadLetters.insert(b.deadLetter),
      b.deadLetterUpdate && deadLetters.update(b.deadLetterUpdate),
    ]),
    runs.applyChanges(changesByRun(ok)),
    runs.wake(ok.flatMap((b) => b.wake ?? [])),
    notifications(ok),
  ];
  return out.filter((s): s is Statement => s !== undefined);
}

/**
 * What the batch announces once it commits: runs that may have become
 * claimable (new runs, wake-ups, a run suspended or released as pending or
 * waiting) and runs that settled, for callers waiting on their results.
 */
function notifications(ok: readonly Commit[]): Statement | undefined {
  const payloads = [...new Set(ok.flatMap(announcements))];
  if (payloads.length === 0) return undefined;
  return {
    text: `SELECT pg_notify('${CHANNEL}', p) FROM unnest($1::text[]) AS p`,
    values: [payloads],
  };
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
