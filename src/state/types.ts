import type { Json } from "../core/json.js";
import type { ClaimedItem, StateHistoryEntry, StateValue } from "../store/stateTypes.js";
import type { ClaimSpec, DocSpec, FindingsSpec, Region, ScratchSpec } from "./regions.js";
import type { StateHandle } from "./StateHandle.js";

/** What a write returns: the key's new version, when, and the step that wrote it. */
export interface StateReceipt {
  key: string;
  version: number;
  at: number;
  step: string;
}

export interface WriteOptions {
  /** The writer vouches for the value (checked it, sourced it). Default false. */
  verified?: boolean;
  /** Doc regions: the version the new value is based on (0: the key must not exist). */
  ifVersion?: number;
}

export interface ReadOptions {
  /** Only what verified writes made (see read()). Default false. */
  verified?: boolean;
}

export interface HistoryOptions {
  /** Entries after this version only. Default 0 (all). */
  afterVersion?: number;
  limit?: number;
}

export interface WatchOptions {
  /** Wait for a version past this one. Default 0: until the key exists. */
  after?: number;
  /** Give up (FLOTILLA_TIMEOUT) after this long, measured durably from the first wait. */
  timeoutMs?: number;
}

/** A doc update: the new value from the current one (undefined for a new key). May call ctx steps. */
export type UpdateFn = (
  current: Json | undefined,
  meta: { version: number; attempt: number },
) => Json | Promise<Json>;

export interface FindingsState {
  readonly region: string;
  /** Merges `input` into the key's value by the region's reducer. */
  write(key: string, input: Json, options?: { verified?: boolean }): Promise<StateReceipt>;
  read(key: string, options?: ReadOptions): Promise<StateValue | null>;
  history(key: string, options?: HistoryOptions): Promise<StateHistoryEntry[]>;
  watch(key: string, options?: WatchOptions): Promise<StateValue>;
}

export interface DocState {
  readonly region: string;
  /** Replaces the value if the key is still at `ifVersion`, else FLOTILLA_STATE_CONFLICT. */
  write(
    key: string,
    value: Json,
    options: { ifVersion: number; verified?: boolean },
  ): Promise<StateReceipt>;
  update(key: string, fn: UpdateFn, options?: { verified?: boolean }): Promise<StateValue>;
  read(key: string, options?: ReadOptions): Promise<StateValue | null>;
  history(key: string, options?: HistoryOptions): Promise<StateHistoryEntry[]>;
  watch(key: string, options?: WatchOptions): Promise<StateValue>;
}

export interface ClaimState {
  readonly region: string;
  put(items: readonly { id: string; value?: Json }[]): Promise<{ added: number }>;
  take(options?: { leaseMs?: number }): Promise<ClaimedItem | null>;
  done(id: string, result?: Json): Promise<void>;
  release(id: string): Promise<void>;
  history(id: string, options?: HistoryOptions): Promise<StateHistoryEntry[]>;
}

export interface ScratchState {
  readonly region: string;
  /** Replaces the value: scratch keys belong to this run alone. */
  write(key: string, value: Json): Promise<StateReceipt>;
  read(key: string): Promise<StateValue | null>;
  history(key: string, options?: HistoryOptions): Promise<StateHistoryEntry[]>;
}

/** The handle `ctx.state(target)` returns: narrowed by the region's isolation when it is known. */
export type StateFor<T> =
  T extends Region<infer S>
    ? S extends FindingsSpec
      ? FindingsState
      : S extends DocSpec
        ? DocState
        : S extends ClaimSpec
          ? ClaimState
          : S extends ScratchSpec
            ? ScratchState
            : StateHandle
    : StateHandle;
