import { describeValue } from "../core/validate.js";
import { InvalidArgumentError, isFlotillaError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { fingerprint, type StepSeen } from "../deadletter/loops.js";
import type { StepKind } from "../journal/JournalIndex.js";
import type { Execution } from "../runtime/Execution.js";
import type { RunContext, StepWork } from "../runtime/RunContext.js";
import type {
  ClaimedItem,
  RunStateWriter,
  StateHistoryEntry,
  StateKey,
  StateValue,
} from "../store/stateTypes.js";
import { announceChange } from "./changes.js";
import { ClaimLostError, StateConflictError, StateIsolationError } from "./errors.js";
import { declareIn, OPERATIONS, regionOf, type Region } from "./regions.js";
import type { DocSpec } from "./regions.js";
import { checkClaimItems, checkLeaseMs, checkVerified } from "./checks.js";
import { checkJson, checkKey } from "./values.js";
import { watchStep } from "./watch.js";
import type {
  HistoryOptions,
  ReadOptions,
  StateFor,
  StateReceipt,
  UpdateFn,
  WatchOptions,
  WriteOptions,
} from "./types.js";

/** The journal's kind for state steps. */
export const STATE_STEP: StepKind = "state";

/** Runs one journaled step of kind `state` (RunContext's own step protocol). */
export type StateStepRunner = <T>(
  name: string,
  body: (step: string) => Promise<StepWork<T>>,
  seen?: (value: T) => StepSeen,
) => Promise<T>;

/** What a handle needs from the context that opened it. */
export interface StateScope {
  ctx: RunContext;
  exec: Execution;
  nextStep: () => string;
  step: StateStepRunner;
}

/** `ctx.state(region)`: the region's handle, typed by its isolation. */
export function openState<T extends Region | string>(target: T, scope: StateScope): StateFor<T> {
  return new StateHandle(regionOf(target), scope) as unknown as StateFor<T>;
}

/**
 * A run's handle on one region of shared state. Every read and write is a
 * journaled step: replay returns what the journal recorded, and a write
 * whose journal event was lost in a crash finds its first result in the
 * store (recorded by (run, step) in the write's own transaction), so no
 * write is applied twice. Bad input is refused before any step is taken.
 */
export class StateHandle {
  constructor(
    private readonly r: Region,
    private readonly s: StateScope,
  ) {}

  get region(): string {
    return this.r.name;
  }

  /**
   * Findings: merges `input` into the key's value by the region's reducer.
   * Doc: replaces the value if the key is still at `ifVersion` (0: absent),
   * else fails with FLOTILLA_STATE_CONFLICT. Scratch: replaces the value.
   */
  async write(key: string, input: Json, options: WriteOptions = {}): Promise<StateReceipt> {
    options = optionsObject("write", options);
    this.allow("write");
    const at = this.at(key);
    const verified = checkVerified(options.verified);
    const value = checkJson(input, `the value written to '${this.r.name}/${at.key}'`);
    if (this.r.isolation === "doc") {
      const ifVersion = options.ifVersion;
      if (typeof ifVersion !== "number" || !Number.isInteger(ifVersion) || ifVersion < 0)
        throw new InvalidArgumentError(
          `a write to doc region '${this.r.name}' needs { ifVersion } (the version it is based on, 0 for a new key), ` +
            `received ${String(ifVersion)}; or use update(key, fn)`,
          { field: "ifVersion", received: ifVersion ?? null },
        );
      return this.set(at, value, ifVersion, verified).then((out) => {
        if ("version" in out) return out;
        throw new StateConflictError(this.r.name, at.key, {
          expected: ifVersion,
          current: out.current?.version ?? 0,
          attempts: 1,
        });
      });
    }
    const problem = this.r.checkInput(value);
    if (problem)
      throw new InvalidArgumentError(
        `a write to '${this.r.name}' (reducer ${this.r.record.reducer}) ${problem}, received ${JSON.stringify(value).slice(0, 120)}`,
        { field: "input", region: this.r.name },
      );
    const op = this.r.record.reducer ?? "set";
    const fp = fingerprint("state", `${this.r.name}.write`, { key: at.key, value, verified });
    return this.s.step(
      `${this.r.name}.write`,
      async (step) => {
        const out = await this.store((store) =>
          store.writeState(
            at,
            { kind: "reduce", op, input: value, verified, reduce: this.r.reduce },
            this.writer(step, fp),
          ),
        );
        if (!out.ok) throw new Error("a reducer write cannot conflict");
        announceChange(this.s.exec.host.store, at);
        return { value: { key: at.key, version: out.version, at: out.at, step } };
      },
      (receipt) => ({ fp, value: receipt, effect: true }),
    );
  }

  /**
   * The key's value, or null when it has none. With `{ verified: true }`,
   * the value made of verified writes only: a doc's last verified version,
   * a findings key's reducer applied to its verified writes alone (the
   * unverified ones skipped); null when no write was verified.
   */
  async read(key: string, options: ReadOptions = {}): Promise<StateValue | null> {
    options = optionsObject("read", options);
    this.allow("read");
    const at = this.at(key);
    const verified = checkVerified(options.verified);
    return this.s.step(`${this.r.name}.read`, async () => ({
      value: (await this.store((store) => store.readState(at, { verified }))) ?? null,
    }));
  }

  /** The key's writes in version order (input, provenance), or a claim item's transitions. */
  async history(key: string, options: HistoryOptions = {}): Promise<StateHistoryEntry[]> {
    options = optionsObject("history", options);
    this.allow("history");
    const at = this.at(key);
    return this.s.step(`${this.r.name}.history`, async () => ({
      value: await this.store((store) => store.stateHistory(at, options)),
    }));
  }

  /**
   * Waits until the key's version passes `after` (default 0: until it
   * exists) and returns its value. Durable: a long wait suspends the run,
   * and the write that passes the version wakes it.
   */
  async watch(key: string, options: WatchOptions = {}): Promise<StateValue> {
    options = optionsObject("watch", options);
    this.allow("watch");
    const at = this.at(key);
    return watchStep(this.s, this.r, at, options, () => declareIn(this.s.exec.host.store, this.r));
  }

  /**
   * Doc: reads the key, computes `fn(current)`, and writes it if the key is
   * still at the version read. On a conflict the region's `merge` (if
   * declared) combines the result with what is there now, else `fn` runs
   * again on the new value; after `maxAttempts` (default 8) losing writes,
   * FLOTILLA_STATE_CONFLICT. `fn` may call other ctx steps.
   */
  async update(key: string, fn: UpdateFn, options: WriteOptions = {}): Promise<StateValue> {
    options = optionsObject("update", options);
    this.allow("update");
    const at = this.at(key);
    const verified = checkVerified(options.verified);
    if (typeof fn !== "function")
      throw new InvalidArgumentError("update(key, fn) needs a function of the current value", {
        field: "fn",
      });
    const what = `the value update() computed for '${this.r.name}/${at.key}'`;
    const merge = (this.r.spec as DocSpec).merge;
    let cur = await this.read(at.key);
    let mine = checkJson(await fn(cur?.value, { version: cur?.version ?? 0, attempt: 1 }), what);
    for (let attempt = 1; ; attempt++) {
      const out = await this.set(at, mine, cur?.version ?? 0, verified);
      if ("version" in out)
        return {
          key: at.key,
          value: mine,
          version: out.version,
          verified,
          writtenBy: {
            runId: this.s.exec.runId,
            step: out.step,
            agent: this.s.exec.run.agent,
            at: out.at,
            verified,
          },
        };
      const theirs = out.current;
      if (attempt >= this.r.maxAttempts)
        throw new StateConflictError(this.r.name, at.key, {
          expected: cur?.version ?? 0,
          current: theirs?.version ?? 0,
          attempts: attempt,
        });
      mine = merge
        ? checkJson(merge({ base: cur?.value, mine, theirs: theirs?.value }), what)
        : checkJson(
            await fn(theirs?.value, { version: theirs?.version ?? 0, attempt: attempt + 1 }),
            what,
          );
      cur = theirs;
    }
  }

  /** Claim: adds items to the queue; an id already put (even done) is not added again. */
  async put(items: readonly { id: string; value?: Json }[]): Promise<{ added: number }> {
    this.allow("put");
    const checked = checkClaimItems(this.r.name, items);
    const fp = fingerprint("state", `${this.r.name}.put`, checked);
    return this.s.step(
      `${this.r.name}.put`,
      async (step) => ({
        value: await this.store((store) =>
          store.putClaimItems(this.r.name, checked, this.writer(step, fp)),
        ),
      }),
      (value) => ({ fp, value, effect: true }),
    );
  }

  /**
   * Claim: leases the oldest available item to this run, or null when none
   * is. The item stays with the run until done() or release(), until the run
   * ends (any way), or until its lease (`leaseMs`, default the region's)
   * expires; then another run may take it, and this run's done() is refused.
   */
  async take(options: { leaseMs?: number } = {}): Promise<ClaimedItem | null> {
    options = optionsObject("take", options);
    this.allow("take");
    const leaseMs = checkLeaseMs(options.leaseMs) ?? this.r.leaseMs;
    const fp = fingerprint("state", `${this.r.name}.take`, { leaseMs });
    return this.s.step(
      `${this.r.name}.take`,
      async (step) => ({
        value: await this.store((store) =>
          store.takeClaimItem(this.r.name, leaseMs, this.writer(step, fp)),
        ),
      }),
      (value) => ({ fp, value, effect: true }),
    );
  }

  /** Claim: marks an item this run holds as done (FLOTILLA_CLAIM_LOST if it does not hold it). */
  async done(id: string, result: Json = null): Promise<void> {
    this.allow("done");
    return this.settle(
      "done",
      checkKey(id, "claim item id"),
      checkJson(result, "a claim item's result"),
    );
  }

  /** Claim: gives an item this run holds back to the queue, for another take. */
  async release(id: string): Promise<void> {
    this.allow("release");
    return this.settle("release", checkKey(id, "claim item id"), null);
  }

  private settle(kind: "done" | "release", id: string, result: Json): Promise<void> {
    const name = `${this.r.name}.${kind}`;
    const fp = fingerprint("state", name, { id, result });
    return this.s.step(
      name,
      async (step) => {
        const out = await this.store((store) =>
          store.settleClaimItem(
            this.r.name,
            id,
            kind === "done" ? { kind, result } : { kind },
            this.writer(step, fp),
          ),
        );
        if (!out.ok) throw new ClaimLostError(this.r.name, id, this.s.exec.runId, out);
        return { value: undefined, journal: null };
      },
      () => ({ fp, value: id, effect: true }),
    );
  }

  /** One compare-and-set step; a conflict is its journaled result, not a failure. */
  private set(
    at: StateKey,
    value: Json,
    ifVersion: number,
    verified: boolean,
  ): Promise<StateReceipt | { current: StateValue | null }> {
    const fp = fingerprint("state", `${this.r.name}.set`, {
      key: at.key,
      value,
      ifVersion,
      verified,
    });
    return this.s.step(
      `${this.r.name}.set`,
      async (step): Promise<StepWork<StateReceipt | { current: StateValue | null }>> => {
        const out = await this.store((store) =>
          store.writeState(
            at,
            { kind: "set", op: "set", input: value, ifVersion, verified },
            this.writer(step, fp),
          ),
        );
        if (out.ok) announceChange(this.s.exec.host.store, at);
        return {
          value: out.ok
            ? { key: at.key, version: out.version, at: out.at, step }
            : { current: out.current ?? null },
        };
      },
      (value) => ({ fp, value, effect: "version" in value }),
    );
  }

  private allow(op: string): void {
    const offered = OPERATIONS[this.r.isolation];
    if (!offered.includes(op))
      throw new StateIsolationError(this.r.name, this.r.isolation, op, offered);
  }

  /** Where a key lives: scratch keys are scoped by the run. */
  private at(key: string): StateKey {
    const checked = checkKey(key, this.r.isolation === "claim" ? "claim item id" : "state key");
    return {
      region: this.r.name,
      scope: this.r.isolation === "scratch" ? this.s.exec.runId : "",
      key: checked,
    };
  }

  private writer(step: string, fp: string): RunStateWriter {
    const run = this.s.exec.run;
    return { runId: run.id, step, leaseToken: run.leaseToken, agent: run.agent, fingerprint: fp };
  }

  /**
   * A store call, after the region's declaration is checked. The store's
   * verdicts end the execution as they would a commit (lease lost, cancel
   * requested, a different write at this step); a failure of the store
   * itself interrupts it; a reducer's own error fails the step.
   */
  private async store<T>(call: (store: Execution["host"]["store"]) => Promise<T>): Promise<T> {
    const exec = this.s.exec;
    const store = exec.host.store;
    try {
      await declareIn(store, this.r);
      return await call(store);
    } catch (err) {
      if (isFlotillaError(err, "FLOTILLA_LEASE_LOST")) exec.stop("lease-lost", err);
      else if (isFlotillaError(err, "FLOTILLA_CANCELLED")) exec.cancel("cancel requested");
      else if (isFlotillaError(err, "FLOTILLA_NONDETERMINISM")) exec.stop("fail", err);
      else if (!isFlotillaError(err) || err.code === "FLOTILLA_NOT_FOUND")
        return exec.viaStore(() => Promise.reject(err as Error));
      throw err;
    }
  }
}

/** An options argument as given, or a typed refusal of one that is not an object (null included). */
function optionsObject<T>(method: string, options: T): T {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new InvalidArgumentError(
      `ctx.state(...).${method} options must be an object, received ${describeValue(options)}`,
      { field: "options" },
    );
  return options;
}
