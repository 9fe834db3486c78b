import { InvalidArgumentError, messageOf } from "../core/errors.js";
import { canonicalJson, type Json } from "../core/json.js";
import { checkJson } from "../state/values.js";

/** One fact a branch states about an entity: `customer:42`'s `plan` is `"pro"`. */
export interface Assertion {
  entity: string;
  key: string;
  value: Json;
}

/**
 * How `ctx.reconcile` finds the assertions in each branch's output: a
 * function `(output, branch) => Assertion[]`, or a schema (zod, or any
 * `{ parse }`) whose `parse(output)` returns the branch's assertions — use
 * `.transform()` to map your own output shape onto `{ entity, key, value }[]`.
 */
export type AssertionSource<O> =
  ((output: O, branch: number) => readonly Assertion[]) | { parse(output: unknown): unknown };

/** An assertion with the branch (index in `outputs`) that made it. */
export interface BranchAssertion extends Assertion {
  branch: number;
}

export function isAssertionSource(value: unknown): boolean {
  return (
    typeof value === "function" ||
    (typeof value === "object" &&
      value !== null &&
      typeof (value as { parse?: unknown }).parse === "function")
  );
}

/**
 * Every branch's assertions, checked: a bad extraction is a typed error that
 * names the branch, never a silently skipped fact.
 */
export function extractAssertions<O>(
  outputs: readonly O[],
  source: AssertionSource<O>,
): BranchAssertion[] {
  const all: BranchAssertion[] = [];
  outputs.forEach((output, branch) => {
    let found: unknown;
    try {
      found = typeof source === "function" ? source(output, branch) : source.parse(output);
    } catch (err) {
      throw new InvalidArgumentError(
        `ctx.reconcile could not read the assertions of branch ${branch}: ${messageOf(err)}`,
        { field: "assertions", branch },
      );
    }
    if (!Array.isArray(found))
      throw new InvalidArgumentError(
        `ctx.reconcile: the assertions of branch ${branch} must be an array of { entity, key, value }, ` +
          `received ${typeof found === "object" ? JSON.stringify(found)?.slice(0, 80) : typeof found}`,
        { field: "assertions", branch },
      );
    found.forEach((a: unknown, i) =>
      all.push({ ...checkAssertion(a, `branch ${branch}, assertion ${i}`), branch }),
    );
  });
  return all;
}

function checkAssertion(a: unknown, where: string): Assertion {
  const o = (typeof a === "object" && a !== null ? a : {}) as Record<string, unknown>;
  for (const field of ["entity", "key"] as const)
    if (typeof o[field] !== "string" || o[field] === "")
      throw new InvalidArgumentError(
        `ctx.reconcile: ${where} needs ${field}: a non-empty string, received ${JSON.stringify(o[field]) ?? "undefined"}`,
        { field: `assertions.${field}` },
      );
  return {
    entity: o.entity as string,
    key: o.key as string,
    value: checkJson(o.value, `ctx.reconcile: the value of ${where}`),
  };
}

/** Equal values compare equal whatever their object key order. */
export function sameValue(a: Json, b: Json): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
