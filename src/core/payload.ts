import { PayloadRejectedError } from "./errors.js";

/**
 * The largest value one journal event may hold, as JSON text. Larger values
 * are refused before they reach the store, with an error naming them.
 */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/**
 * A JSON round trip that refuses what the store would refuse or lose: a value
 * JSON cannot hold (BigInt, a cycle), a string holding U+0000 (PostgreSQL's
 * jsonb rejects it; SQLite keeps it, and both stores must behave the same),
 * or more than `MAX_PAYLOAD_BYTES`. What first execution returns is exactly
 * what replay returns. `what` names the value in the error ("tool 'x' result").
 */
export function storableCopy<T>(value: T, what: string, maxBytes = MAX_PAYLOAD_BYTES): T {
  if (value === undefined) return value;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw rejection(value, what, (err as Error).message);
  }
  // Plain JSON.stringify of a function or symbol gives undefined: nothing to store.
  if (text === undefined) throw new PayloadRejectedError(what, "", `is a ${typeof value}`);
  // JSON escapes U+0000 as \u0000; a literal backslash-u0000 text matches too, so confirm by walking.
  if (text.includes("\\u0000")) {
    const path = findNul(value, "", new Set());
    if (path !== undefined) throw new PayloadRejectedError(what, path, "contains U+0000 (NUL)");
  }
  if (text.length > maxBytes / 4 && Buffer.byteLength(text) > maxBytes) {
    throw new PayloadRejectedError(
      what,
      "",
      `is ${Buffer.byteLength(text)} bytes as JSON, over the ${maxBytes}-byte limit`,
    );
  }
  return JSON.parse(text) as T;
}

/** Names the first part of `value` that JSON cannot hold. */
function rejection(value: unknown, what: string, fallback: string): PayloadRejectedError {
  const found = findUnserializable(value, "", new Set());
  return found
    ? new PayloadRejectedError(what, found.path, found.reason)
    : new PayloadRejectedError(what, "", `is not JSON (${fallback})`);
}

function children(value: object): [string, unknown][] {
  return Array.isArray(value)
    ? // Array.from, not map: map skips a sparse array's holes and leaves them in its result.
      Array.from(value, (v, i): [string, unknown] => [`[${i}]`, v])
    : Object.entries(value).map(([k, v]) => [`.${k}`, v]);
}

function findUnserializable(
  value: unknown,
  path: string,
  ancestors: Set<object>,
): { path: string; reason: string } | undefined {
  if (typeof value === "bigint") return { path, reason: "is a BigInt (not JSON)" };
  if (value === null || typeof value !== "object") return undefined;
  if (ancestors.has(value)) return { path, reason: "refers back to itself (a cycle)" };
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === "function") return undefined;
  ancestors.add(value);
  for (const [key, child] of children(value)) {
    const found = findUnserializable(child, `${path}${key}`, ancestors);
    if (found) return found;
  }
  ancestors.delete(value);
  return undefined;
}

function findNul(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (typeof value === "string") return value.includes("\0") ? path : undefined;
  if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
  seen.add(value);
  for (const [key, child] of children(value)) {
    if (key.includes("\0")) return `${path}${key}`;
    const found = findNul(child, `${path}${key}`, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}
