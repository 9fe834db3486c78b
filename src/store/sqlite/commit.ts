import type Database from "better-sqlite3";
import { CancelledError, LeaseLostError, NotFoundError } from "../../core/errors.js";
import { defersFlush, settles, type Commit, type NewEvent } from "../types.js";
import type { Announce } from "./announce.js";
import * as deadLetters from "./deadLetters.js";
import * as effects from "./effects.js";
import * as journal from "./journal.js";
import * as runs from "./runs.js";
import { failedAlone, maybeUnflushed, prepared } from "./sql.js";

const fenceOf = prepared(
  "SELECT status, lease_token, lease_expires_at, cancel_requested FROM runs WHERE id = ?",
);

/**
 * One transaction for the whole batch; a savepoint per commit so one bad
 * fence fails alone. A lone commit is its own transaction: rolled back
 * alone, it fails alone, without the savepoint's two statements; a lone
 * commit of one event is one fenced statement.
 */
export function applyBatch(
  db: Database.Database,
  batch: Commit[],
  announce: Announce,
): (Error | undefined)[] {
  const outcomes: (Error | undefined)[] = [];
  let runnable = false;
  /** In a batch, a commit fails alone unless its failure ended the batch's transaction. */
  const settle = (apply: () => boolean, inBatch = false): void => {
    try {
      runnable = apply() || runnable;
      outcomes.push(undefined);
    } catch (err) {
      outcomes.push(inBatch ? failedAlone(db, err) : (err as Error));
    }
  };
  const { all, one } = transactions(db);
  maybeUnflushed(db, defersFlush(batch), () => {
    const [lone] = batch;
    const alone = batch.length === 1 && lone ? loneEvent(lone) : undefined;
    if (lone && alone) settle(() => appendAlone(db, lone, alone, Date.now()));
    else if (batch.length === 1 && lone) settle(() => one.immediate(lone, Date.now()));
    else
      all.immediate(() => {
        const now = Date.now();
        for (const c of batch) settle(() => one(c, now), true);
      });
  });
  if (runnable) announce.runnable();
  batch.forEach((c, i) => {
    if (outcomes[i] === undefined && c.status && settles(c.status.status))
      announce.settled(c.runId);
  });
  return outcomes;
}

interface BatchTransactions {
  /** Runs a batch in one transaction. */
  all: Database.Transaction<(run: () => void) => void>;
  /** Applies one commit in a savepoint of the batch's transaction, so a bad fence fails alone. */
  one: Database.Transaction<(c: Commit, now: number) => boolean>;
}

const byConnection = new WeakMap<Database.Database, BatchTransactions>();

/** The batch's transaction functions, made once per connection (making them costs). */
function transactions(db: Database.Database): BatchTransactions {
  let t = byConnection.get(db);
  if (!t) {
    t = {
      all: db.transaction((run: () => void) => run()),
      one: db.transaction((c: Commit, now: number) => apply(db, c, now)),
    };
    byConnection.set(db, t);
  }
  return t;
}

/** Applies one commit whose fence holds; returns whether runs may have become claimable. */
function apply(db: Database.Database, c: Commit, now: number): boolean {
  checkFence(db, c, now);
  journal.putBlobs(db, c.blobs ?? []);
  for (const r of c.newRuns ?? []) runs.insert(db, r, now);
  journal.append(db, c.runId, c.events, now);
  effects.upsert(db, c.effects ?? [], now);
  if (c.deadLetter) deadLetters.insert(db, c.deadLetter, now);
  if (c.deadLetterUpdate) deadLetters.update(db, c.deadLetterUpdate, now);
  let runnable = (c.newRuns?.length ?? 0) > 0;
  if (c.status) {
    const status = runs.changeStatus(db, c.runId, c.status, now);
    runnable ||= status === "pending" || status === "waiting";
  }
  if (c.release) runs.release(db, c.runId);
  for (const id of c.wake ?? []) runs.wake(db, id, now);
  return runnable || (c.wake?.length ?? 0) > 0;
}

/** What a commit may hold besides its run, fence and events to be written as one event alone. */
const LONE_KEYS = new Set(["runId", "fence", "events", "deferFlush"]);
/** The fence the one statement checks: a fence with anything more keeps the transaction. */
const LONE_FENCE_KEYS = new Set(["leaseToken", "requireNotCancelled"]);

/**
 * The event, lease token and cancel check of a commit that writes one event
 * under its lease and nothing else (a read step's), or undefined. Any other
 * field with something to write, or any other fence field, rules it out,
 * fields added later included.
 */
function loneEvent(
  c: Commit,
): { event: NewEvent; token: string; notCancelled: boolean } | undefined {
  const [event] = c.events;
  if (c.events.length !== 1 || event === undefined || !("leaseToken" in c.fence)) return undefined;
  for (const key in c.fence) if (!LONE_FENCE_KEYS.has(key)) return undefined;
  for (const key in c) {
    const value: unknown = c[key as keyof Commit];
    const empty =
      value === undefined || value === false || (Array.isArray(value) && value.length === 0);
    if (!empty && !LONE_KEYS.has(key)) return undefined;
  }
  return { event, token: c.fence.leaseToken, notCancelled: c.fence.requireNotCancelled === true };
}

/**
 * Writes a lone event in one statement that checks the fence itself: no
 * BEGIN, fence read and COMMIT around it. If it wrote nothing, the fence is
 * read to say why.
 */
function appendAlone(
  db: Database.Database,
  c: Commit,
  alone: { event: NewEvent; token: string; notCancelled: boolean },
  now: number,
): boolean {
  if (journal.appendFenced(db, c.runId, alone.event, alone, now)) return false;
  checkFence(db, c, now);
  throw new LeaseLostError(c.runId); // the fence held when read again: it changed in between
}

function checkFence(db: Database.Database, c: Commit, now: number): void {
  const run = fenceOf(db).get(c.runId) as
    | {
        status: string;
        lease_token: string | null;
        lease_expires_at: number | null;
        cancel_requested: number;
      }
    | undefined;
  if (!run) throw new NotFoundError("run", c.runId);
  if ("leaseToken" in c.fence) {
    if (run.lease_token !== c.fence.leaseToken) throw new LeaseLostError(c.runId);
    if (c.fence.requireNotCancelled && run.cancel_requested) throw new CancelledError(c.runId);
  } else {
    const leased = run.lease_token !== null && (run.lease_expires_at ?? 0) >= now;
    if (leased || !c.fence.unleasedIn.includes(run.status as never)) {
      throw new LeaseLostError(c.runId);
    }
  }
}
