import { canonicalJson, type Json } from "../core/json.js";

/**
 * The built-in reducers of findings regions: how a write's input merges into
 * the key's value. Each runs under the key's row lock, so concurrent writers
 * compose instead of overwriting each other; last-writer-wins (`lww`) only
 * when a region declares it.
 */
export type BuiltinReducer = "counter" | "append" | "union" | "max" | "min" | "lww";

export const BUILTIN_REDUCERS: readonly BuiltinReducer[] = [
  "counter",
  "append",
  "union",
  "max",
  "min",
  "lww",
];

interface Builtin {
  /** What the input must be, as an error phrase, or undefined when it fits. */
  check: (input: Json) => string | undefined;
  reduce: (current: Json | undefined, input: Json) => Json;
  /** For messages: what a write's input is. */
  input: string;
}

const finite = (input: Json) =>
  typeof input === "number" && Number.isFinite(input) ? undefined : "must be a finite number";

export const BUILTINS: Record<BuiltinReducer, Builtin> = {
  /** Adds the input (any finite number, negative to subtract) to the count, from 0. */
  counter: {
    input: "a number to add",
    check: finite,
    reduce: (current, input) => ((current as number | undefined) ?? 0) + (input as number),
  },
  /** Appends the input as one element of a list. */
  append: {
    input: "one element to append",
    check: () => undefined,
    reduce: (current, input) => [...((current as Json[] | undefined) ?? []), input],
  },
  /**
   * Adds the input's elements (an array) to a set: a list without duplicates
   * (equal as canonical JSON), in the order elements first arrived.
   */
  union: {
    input: "an array of elements to add",
    check: (input) => (Array.isArray(input) ? undefined : "must be an array of elements to add"),
    reduce: (current, input) => {
      const out = [...((current as Json[] | undefined) ?? [])];
      const seen = new Set(out.map((e) => canonicalJson(e)));
      for (const e of input as Json[]) {
        const id = canonicalJson(e);
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(e);
      }
      return out;
    },
  },
  /** The largest number written. */
  max: {
    input: "a number",
    check: finite,
    reduce: (current, input) =>
      current === undefined ? input : Math.max(current as number, input as number),
  },
  /** The smallest number written. */
  min: {
    input: "a number",
    check: finite,
    reduce: (current, input) =>
      current === undefined ? input : Math.min(current as number, input as number),
  },
  /** The last write wins: declared, never a default. */
  lww: {
    input: "the new value",
    check: () => undefined,
    reduce: (_current, input) => input,
  },
};
