import { InvalidArgumentError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import type {
  ClaimItemRecord,
  StateHistoryEntry,
  StateKey,
  StateValue,
  StateWriter,
} from "../store/stateTypes.js";
import type { Store } from "../store/types.js";
import { announceChange } from "./changes.js";
import { checkClaimItems, checkVerified } from "./checks.js";
import { ClaimLostError, StateConflictError, StateIsolationError } from "./errors.js";
import { declareIn, regionOf, type Region } from "./regions.js";
import type { HistoryOptions, ReadOptions, StateReceipt, WriteOptions } from "./types.js";
import { checkJson, checkKey } from "./values.js";

export interface RegionStateOptions {
  /** Who writes, recorded as the provenance's agent (its run and step are null). Default "outside". */
  actor?: string;
}

/**
 * A region's state from outside any run: a script seeding a claim queue, an
 * operator or a dashboard reading a key, its history and its provenance.
 * Nothing here is journaled (there is no run), and writes are recorded with
 * `actor` as their author.
 */
export function regionState(
  host: { readonly store: Store } | Store,
  target: Region | string,
  options: RegionStateOptions = {},
): RegionState {
  const store = "store" in host ? host.store : host;
  const actor = options.actor ?? "outside";
  if (typeof actor !== "string" || actor === "")
    throw new InvalidArgumentError("regionState: actor must be a non-empty string", {
      field: "actor",
    });
  return new RegionState(store, regionOf(target), { actor });
}

export class RegionState {
  constructor(
    private readonly store: Store,
    private readonly r: Region,
    private readonly by: StateWriter,
  ) {}

  /** The key's value (see ctx.state(...).read); scratch regions need the run: `{ runId }`. */
  async read(
    key: string,
    options: ReadOptions & { runId?: string } = {},
  ): Promise<StateValue | null> {
    const verified = checkVerified(options.verified);
    return (await this.store.readState(this.at(key, options.runId), { verified })) ?? null;
  }

  history(
    key: string,
    options: HistoryOptions & { runId?: string } = {},
  ): Promise<StateHistoryEntry[]> {
    return this.store.stateHistory(this.at(key, options.runId), options);
  }

  /** Findings: merges by the reducer. Doc: compare-and-set on `ifVersion` (required). */
  async write(key: string, input: Json, options: WriteOptions = {}): Promise<StateReceipt> {
    const iso = this.r.isolation;
    if (iso !== "findings" && iso !== "doc")
      throw new StateIsolationError(this.r.name, iso, "write", [
        "read",
        "history",
        ...(iso === "claim" ? ["put", "items", "release"] : []),
      ]);
    const at = this.at(key);
    const verified = checkVerified(options.verified);
    const value = checkJson(input, `the value written to '${this.r.name}/${at.key}'`);
    await declareIn(this.store, this.r);
    if (iso === "doc") {
      const ifVersion = options.ifVersion;
      if (typeof ifVersion !== "number" || !Number.isInteger(ifVersion) || ifVersion < 0)
        throw new InvalidArgumentError(
          `a write to doc region '${this.r.name}' needs { ifVersion } ≥ 0`,
          {
            field: "ifVersion",
          },
        );
      const out = await this.store.writeState(
        at,
        { kind: "set", op: "set", input: value, ifVersion, verified },
        this.by,
      );
      if (!out.ok)
        throw new StateConflictError(this.r.name, at.key, {
          expected: ifVersion,
          current: out.current?.version ?? 0,
          attempts: 1,
        });
      announceChange(this.store, at);
      return { key: at.key, version: out.version, at: out.at, step: "" };
    }
    const problem = this.r.checkInput(value);
    if (problem)
      throw new InvalidArgumentError(`a write to '${this.r.name}' ${problem}`, { field: "input" });
    const op = this.r.record.reducer ?? "set";
    const out = await this.store.writeState(
      at,
      { kind: "reduce", op, input: value, verified, reduce: this.r.reduce },
      this.by,
    );
    if (!out.ok) throw new Error("a reducer write cannot conflict");
    announceChange(this.store, at);
    return { key: at.key, version: out.version, at: out.at, step: "" };
  }

  /** Claim: adds items to the queue (ids already put are skipped). */
  async put(items: readonly { id: string; value?: Json }[]): Promise<{ added: number }> {
    this.claimOnly("put");
    const checked = checkClaimItems(this.r.name, items);
    await declareIn(this.store, this.r);
    return this.store.putClaimItems(this.r.name, checked, this.by);
  }

  /** Claim: every item with its status, holder, attempts and result, in queue order. */
  items(): Promise<ClaimItemRecord[]> {
    this.claimOnly("items");
    return this.store.listClaimItems(this.r.name);
  }

  /** Claim: puts an item back in the queue whoever holds it (an operator's decision). */
  async release(id: string): Promise<void> {
    this.claimOnly("release");
    const out = await this.store.settleClaimItem(
      this.r.name,
      checkKey(id, "claim item id"),
      { kind: "release" },
      this.by,
    );
    if (!out.ok) throw new ClaimLostError(this.r.name, id, "(outside)", out);
  }

  private claimOnly(op: string): void {
    if (this.r.isolation !== "claim")
      throw new StateIsolationError(this.r.name, this.r.isolation, op, [
        "read",
        "history",
        "write",
      ]);
  }

  private at(key: string, runId?: string): StateKey {
    const checked = checkKey(key, this.r.isolation === "claim" ? "claim item id" : "state key");
    if (this.r.isolation === "scratch" && typeof runId !== "string")
      throw new InvalidArgumentError(
        `scratch region '${this.r.name}' is private to each run: pass { runId } to read one run's keys`,
        { field: "runId" },
      );
    return {
      region: this.r.name,
      scope: this.r.isolation === "scratch" ? (runId as string) : "",
      key: checked,
    };
  }
}
