import type { Json } from "../core/json.js";

/** How a region's keys may be written (see src/state/regions.ts). */
export type Isolation = "claim" | "findings" | "doc" | "scratch";

/** A region as the store records it: the first declaration of a name wins, store-wide. */
export interface StateRegionRecord {
  name: string;
  isolation: Isolation;
  /** A built-in reducer's name, `custom:<name>`, or null (doc, claim, scratch). */
  reducer: string | null;
}

/** Where a value lives: `scope` is "" in shared regions, the run's id in scratch ones. */
export interface StateKey {
  region: string;
  scope: string;
  key: string;
}

/**
 * Who writes. A run's step is fenced by the run's lease and applied once per
 * (run, step): the store records its result in the write's own transaction,
 * and the same step writing again gets that result back, never a second
 * write. `fingerprint` names what the step wrote, so a step that asks for
 * something else at the same position is refused. An actor outside any run
 * (a seeding script, an operator) writes unfenced and unrecorded.
 */
export type StateWriter = RunStateWriter | { actor: string };

export interface RunStateWriter {
  runId: string;
  step: string;
  leaseToken: string;
  agent: string;
  fingerprint: string;
}

export function isRunWriter(by: StateWriter): by is RunStateWriter {
  return "runId" in by;
}

/** Who wrote a value or a history entry, and whether the writer vouched for it. */
export interface StateProvenance {
  /** The run that wrote it; null when written from outside any run. */
  runId: string | null;
  step: string | null;
  /** The run's agent, or the actor outside a run. */
  agent: string | null;
  at: number;
  verified: boolean;
}

export interface StateValue {
  key: string;
  value: Json;
  version: number;
  /**
   * True when every write that made this value was verified (for a doc: its
   * last write). A read that requires verified values gets `verified: true`.
   */
  verified: boolean;
  /** The write that made this version. */
  writtenBy: StateProvenance;
}

/**
 * A write. `reduce` merges the input into the current value under the row's
 * lock (applied again, to the verified fold, when the write is verified);
 * `set` replaces the value if the key is still at `ifVersion` (0: absent).
 */
export type StateWrite =
  | {
      kind: "reduce";
      /** Recorded in history: the reducer's name. */
      op: string;
      input: Json;
      verified: boolean;
      reduce: (current: Json | undefined, input: Json) => Json;
    }
  | { kind: "set"; op: string; input: Json; verified: boolean; ifVersion: number };

export type StateWriteOutcome =
  | { ok: true; version: number; at: number }
  /** A `set` whose version no longer matched: nothing was written. */
  | { ok: false; current: StateValue | undefined };

export interface StateHistoryEntry {
  version: number;
  /** The reducer, `set`, or for a claim item `put`, `take`, `done`, `release`. */
  op: string;
  input: Json | null;
  by: StateProvenance;
}

export interface ClaimItemInput {
  id: string;
  value: Json;
}

/** An item leased to the run that took it. */
export interface ClaimedItem {
  id: string;
  value: Json;
  /** 1 for the first take; more when an earlier holder let it go (lease, failure, release). */
  attempt: number;
  leaseExpiresAt: number;
}

export type ClaimStatus = "open" | "leased" | "done";

export interface ClaimItemRecord {
  id: string;
  value: Json;
  status: ClaimStatus;
  holder: string | null;
  attempts: number;
  leaseExpiresAt: number | null;
  result: Json | undefined;
}

export type ClaimSettle = { kind: "done"; result: Json } | { kind: "release" };

/** A settle refused: the run no longer holds the item (or it never existed). */
export type ClaimSettled =
  { ok: true } | { ok: false; status: ClaimStatus | "missing"; holder: string | null };

/**
 * Versioned shared state (ctx.state). Every write takes the row's lock (SQLite:
 * the write transaction; PostgreSQL: `FOR UPDATE`), so concurrent writers
 * never lose an update; every write by a run is fenced and applied once per
 * (run, step).
 */
export interface StateStore {
  /** Records the region if new; returns the region as recorded (compare to see a mismatch). */
  declareStateRegion(region: StateRegionRecord): Promise<StateRegionRecord>;
  writeState(at: StateKey, write: StateWrite, by: StateWriter): Promise<StateWriteOutcome>;
  /** The value; with `verified`, the value folded from verified writes only (undefined if none). */
  readState(at: StateKey, options?: { verified?: boolean }): Promise<StateValue | undefined>;
  stateHistory(
    at: StateKey,
    options?: { afterVersion?: number; limit?: number },
  ): Promise<StateHistoryEntry[]>;
  /**
   * The key's value if its version is past `afterVersion`; otherwise registers
   * the run's step as waiting for it (the write that passes it wakes the run)
   * and returns undefined. One transaction, so no write slips between.
   */
  watchState(
    at: StateKey,
    watcher: { runId: string; step: string },
    afterVersion: number,
  ): Promise<StateValue | undefined>;
  /** Adds items not already in the region (an id once put is never put again); returns how many. */
  putClaimItems(
    region: string,
    items: readonly ClaimItemInput[],
    by: StateWriter,
  ): Promise<{ added: number }>;
  /** Leases the oldest available item to the run, or null when none is available. */
  takeClaimItem(region: string, leaseMs: number, by: RunStateWriter): Promise<ClaimedItem | null>;
  /**
   * Marks an item done or gives it back. A run may settle only an item it
   * holds (an expired lease still counts until another run takes the item);
   * an actor outside runs may settle any item.
   */
  settleClaimItem(
    region: string,
    item: string,
    settle: ClaimSettle,
    by: StateWriter,
  ): Promise<ClaimSettled>;
  listClaimItems(region: string): Promise<ClaimItemRecord[]>;
}
