import { InvalidArgumentError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";

/** Longest key or claim item id: both are parts of primary keys. */
export const MAX_KEY_LENGTH = 1024;

/** A key or item id: a non-empty string of at most MAX_KEY_LENGTH characters, without NUL. */
export function checkKey(key: unknown, what: string): string {
  if (
    typeof key !== "string" ||
    key.length === 0 ||
    key.length > MAX_KEY_LENGTH ||
    key.includes("\0")
  )
    throw new InvalidArgumentError(
      `${what} must be a non-empty string of at most ${MAX_KEY_LENGTH} characters without NUL, ` +
        `received ${describe(key)}`,
      { field: what },
    );
  return key;
}

/**
 * A copy of a value that is plain JSON, or a typed error naming the first
 * part that is not. Stricter than the journal: JSON.stringify would turn NaN
 * into null, a Date into a string and a Map into {}, and drop undefined
 * members; each of those is a silent change to shared state, so it is refused.
 */
export function checkJson(value: unknown, what: string): Json {
  const bad = firstNonJson(value, "", new Set());
  if (bad)
    throw new InvalidArgumentError(`${what}${bad.path ? ` at ${bad.path}` : ""} ${bad.reason}`, {
      field: what,
      path: bad.path,
    });
  return storableCopy(value as Json, what);
}

function firstNonJson(
  value: unknown,
  path: string,
  ancestors: Set<object>,
): { path: string; reason: string } | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") return undefined;
  if (typeof value === "number")
    return Number.isFinite(value) ? undefined : { path, reason: `is ${value}, not a JSON number` };
  if (typeof value !== "object")
    return {
      path,
      reason: `is ${value === undefined ? "undefined" : `a ${typeof value}`}, not JSON`,
    };
  if (ancestors.has(value)) return { path, reason: "refers back to itself (a cycle)" };
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null)
    return {
      path,
      reason: `is a ${(value as { constructor?: { name?: string } }).constructor?.name ?? "non-plain object"}, not a plain JSON object`,
    };
  ancestors.add(value);
  const entries: [string, unknown][] = Array.isArray(value)
    ? // Array.from, not map: map skips a sparse array's holes and leaves them in its result.
      Array.from(value, (v, i): [string, unknown] => [`[${i}]`, v])
    : Object.entries(value).map(([k, v]) => [`.${k}`, v]);
  for (const [key, child] of entries) {
    const found = firstNonJson(child, `${path}${key}`, ancestors);
    if (found) return found;
  }
  ancestors.delete(value);
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  return typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : `a ${typeof value}`;
}
