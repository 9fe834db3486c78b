import { z } from "zod";
import { InvalidArgumentError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { describeValue, parseOptions } from "../core/validate.js";
import type { Isolation, StateRegionRecord } from "../store/stateTypes.js";
import type { Store } from "../store/types.js";
import { StateRegionMismatchError, StateRegionUnknownError } from "./errors.js";
import { BUILTIN_REDUCERS, BUILTINS, type BuiltinReducer } from "./reducers.js";
import { checkJson } from "./values.js";

/**
 * A reducer of your own for a findings region: a pure function of the
 * current value (undefined for a new key) and one write's input. It runs
 * under the key's row lock, once per write, and again for the fold of
 * verified writes; it must not have side effects. `name` is recorded in the
 * store, so every worker must agree on it.
 */
export interface CustomReducer {
  name: string;
  reduce(current: Json | undefined, input: Json): Json;
}

/** A doc conflict: the value the update started from, its result, and what is there now. */
export interface DocConflict {
  base: Json | undefined;
  mine: Json;
  theirs: Json | undefined;
}

/** Findings: every write merges into the value by the declared reducer. */
export interface FindingsSpec {
  isolation: "findings";
  reducer: BuiltinReducer | CustomReducer;
}

/** A document: compare-and-set on its version, an update retried (or merged) on conflict. */
export interface DocSpec {
  isolation: "doc";
  /** Called on a conflict instead of running the update function again. Pure. */
  merge?: (conflict: DocConflict) => Json;
  /** Compare-and-set attempts of one `update` before FLOTILLA_STATE_CONFLICT. Default 8. */
  maxAttempts?: number;
}

/** An exclusive work queue: each item leased to one run at a time, done by one run. */
export interface ClaimSpec {
  isolation: "claim";
  /** How long a taken item stays with its run unless done, released or the run ends. Default 5 min. */
  leaseMs?: number;
}

/** Private to the run: keys are scoped by the run's id. */
export interface ScratchSpec {
  isolation: "scratch";
}

export type RegionSpec = FindingsSpec | DocSpec | ClaimSpec | ScratchSpec;

/** A declared region, made by `region(name, spec)`; pass it to `ctx.state`. */
export interface Region<S extends RegionSpec = RegionSpec> {
  readonly kind: "flotilla.region";
  readonly name: string;
  readonly isolation: S["isolation"];
  readonly spec: S;
  /** The declaration as the store records it. */
  readonly record: StateRegionRecord;
  /** Findings: merges one input (already checked) into the current value. */
  readonly reduce: (current: Json | undefined, input: Json) => Json;
  /** Findings: the input's shape as an error phrase, or undefined when it fits. */
  readonly checkInput: (input: Json) => string | undefined;
  readonly maxAttempts: number;
  readonly leaseMs: number;
}

export const DEFAULT_DOC_ATTEMPTS = 8;
export const DEFAULT_CLAIM_LEASE_MS = 300_000;

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", {
  message: "must be a function",
});
const customReducer = z.strictObject({
  name: z.string().regex(/^[\w.:-]{1,100}$/, "must be 1-100 letters, digits, '_', '.', ':' or '-'"),
  reduce: fn,
});
const specSchema = z.discriminatedUnion("isolation", [
  z.strictObject({
    isolation: z.literal("findings"),
    reducer: z.union(
      [z.enum(BUILTIN_REDUCERS as [BuiltinReducer, ...BuiltinReducer[]]), customReducer],
      {
        message: `must be one of ${BUILTIN_REDUCERS.join(", ")}, or { name, reduce }`,
      },
    ),
  }),
  z.strictObject({
    isolation: z.literal("doc"),
    merge: fn.optional(),
    maxAttempts: z.number().int().min(1).max(100).optional(),
  }),
  z.strictObject({
    isolation: z.literal("claim"),
    leaseMs: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400_000)
      .optional(),
  }),
  z.strictObject({ isolation: z.literal("scratch") }),
]);

const NAME = /^[\w.:/-]{1,200}$/;

/** Regions declared in this process, by name. */
const declared = new Map<string, Region>();

/**
 * Declares a region of shared state. Declare each region once, at module
 * level, with the same spec in every worker: the first declaration of a
 * name is recorded in the store, and a different one (another isolation or
 * reducer) is refused with FLOTILLA_STATE_REGION_MISMATCH, here or by the store.
 *
 * ```ts
 * const visits = region("visits", { isolation: "findings", reducer: "counter" });
 * const plan = region("plan", { isolation: "doc", merge: ({ mine, theirs }) => ({ ...theirs, ...mine }) });
 * const queue = region("pages", { isolation: "claim", leaseMs: 60_000 });
 * ```
 */
export function region<S extends RegionSpec>(name: string, spec: S): Region<S> {
  if (typeof name !== "string" || !NAME.test(name))
    throw new InvalidArgumentError(
      `region name must be 1-200 letters, digits, '_', '.', ':', '/' or '-', received ${describeValue(name)}`,
      { field: "name" },
    );
  const parsed = parseOptions(specSchema, spec, `region '${name}'`) as S;
  const made = build(name, parsed);
  const prior = declared.get(name);
  if (prior && signature(prior.record) !== signature(made.record))
    throw new StateRegionMismatchError(
      name,
      signature(prior.record),
      signature(made.record),
      "process",
    );
  declared.set(name, made);
  return made;
}

function build<S extends RegionSpec>(name: string, spec: S): Region<S> {
  let reducer: string | null = null;
  let reduce: Region["reduce"] = (_c, input) => input;
  let checkInput: Region["checkInput"] = () => undefined;
  if (spec.isolation === "findings") {
    const r = spec.reducer;
    if (typeof r === "string") {
      reducer = r;
      reduce = BUILTINS[r].reduce;
      checkInput = BUILTINS[r].check;
    } else {
      reducer = `custom:${r.name}`;
      reduce = (current, input) => custom(name, r, current, input);
    }
  }
  return {
    kind: "flotilla.region",
    name,
    isolation: spec.isolation,
    spec,
    record: { name, isolation: spec.isolation, reducer },
    reduce,
    checkInput,
    maxAttempts: (spec.isolation === "doc" && spec.maxAttempts) || DEFAULT_DOC_ATTEMPTS,
    leaseMs: (spec.isolation === "claim" && spec.leaseMs) || DEFAULT_CLAIM_LEASE_MS,
  };
}

/** A custom reducer's result, refused (typed) when it throws or returns what is not JSON. */
function custom(name: string, r: CustomReducer, current: Json | undefined, input: Json): Json {
  let out: unknown;
  try {
    out = r.reduce(current, input);
  } catch (err) {
    throw new InvalidArgumentError(
      `reducer '${r.name}' of state region '${name}' threw: ${err instanceof Error ? err.message : String(err)}`,
      { region: name, reducer: r.name },
    );
  }
  return checkJson(out, `the result of reducer '${r.name}' of state region '${name}'`);
}

function signature(r: StateRegionRecord): string {
  return r.reducer ? `${r.isolation} (reducer ${r.reducer})` : r.isolation;
}

export function isRegion(value: unknown): value is Region {
  return (
    typeof value === "object" && value !== null && (value as Region).kind === "flotilla.region"
  );
}

/** The region given, or the one declared in this process under that name. */
export function regionOf(target: Region | string): Region {
  if (isRegion(target)) return target;
  if (typeof target === "string") {
    const found = declared.get(target);
    if (found) return found;
    throw new StateRegionUnknownError(target, [...declared.keys()]);
  }
  throw new InvalidArgumentError(
    "ctx.state needs a region made by region(name, spec), or the name of one",
    { field: "region" },
  );
}

/** Each store's declarations already checked by this process. */
const checked = new WeakMap<Store, Map<string, Promise<void>>>();

/**
 * Records the region in the store on first use, and refuses a region the
 * store knows with another isolation or reducer (another worker's code).
 */
export function declareIn(store: Store, r: Region): Promise<void> {
  let byName = checked.get(store);
  if (!byName) checked.set(store, (byName = new Map<string, Promise<void>>()));
  let done = byName.get(r.name);
  if (!done) {
    done = store.declareStateRegion(r.record).then((recorded) => {
      if (signature(recorded) !== signature(r.record))
        throw new StateRegionMismatchError(
          r.name,
          signature(recorded),
          signature(r.record),
          "store",
        );
    });
    // A failed check is asked again next time (the store may have been unreachable).
    done.catch(() => byName.delete(r.name));
    byName.set(r.name, done);
  }
  return done;
}

/** The isolations each operation belongs to, for StateIsolationError. */
export const OPERATIONS: Record<Isolation, readonly string[]> = {
  findings: ["write", "read", "history", "watch"],
  doc: ["write", "update", "read", "history", "watch"],
  claim: ["put", "take", "done", "release", "history"],
  scratch: ["write", "read", "history"],
};
