import { hash } from "node:crypto";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * JSON with object keys sorted, so equal values always hash the same way.
 * `undefined` members are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return plainCanonical(value, 0) ?? replacedCanonical(value);
}

/** Deeper than this, the general path decides (and reports a cycle as JSON.stringify does). */
const PLAIN_DEPTH = 64;

/**
 * `canonicalJson` of plain JSON data (null, booleans, finite numbers,
 * strings, arrays, plain objects) without a replacer call per value, which
 * is most of its cost on a step's small arguments and results. Undefined as
 * soon as the value holds anything else (a class instance, `toJSON`, a
 * value JSON drops or rewrites, a key a plain object orders or keeps
 * differently): the general path is then taken for the whole value, so the
 * text is always exactly the general path's.
 */
function plainCanonical(v: unknown, depth: number): string | undefined {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? String(v) : undefined;
    case "boolean":
      return v ? "true" : "false";
    case "object":
      break;
    default:
      return undefined;
  }
  if (depth >= PLAIN_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === "function")
    return undefined;
  if (Array.isArray(v)) {
    let out = "[";
    for (let i = 0; i < v.length; i++) {
      const item = plainCanonical(v[i], depth + 1);
      if (item === undefined) return undefined;
      out += i === 0 ? item : `,${item}`;
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const keys = Object.keys(v).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    // Integer-like keys are ordered numerically by a rebuilt object; `__proto__` is not kept as a key.
    const first = k.charCodeAt(0);
    if ((first >= 48 && first <= 57) || k === "__proto__") return undefined;
    const item = plainCanonical((v as Record<string, unknown>)[k], depth + 1);
    if (item === undefined) return undefined;
    out += `${i === 0 ? "" : ","}${JSON.stringify(k)}:${item}`;
  }
  return `${out}}`;
}

function replacedCanonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v) || Buffer.isBuffer(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

export function sha256(data: string | Buffer): Buffer {
  // One-shot: no Hash object per call (the journal hashes several values per step).
  return hash("sha256", data, "buffer");
}

/** `sha256(data).toString("hex")` without the Buffer in between. */
export function sha256Hex(data: string | Buffer): string {
  return hash("sha256", data, "hex");
}

/** JSON round trip: what a first execution returns is exactly what replay will return. */
export function jsonCopy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** A journal value as text for messages and listings. */
export function text(value: unknown): string {
  if (typeof value === "string") return value;
  return value === undefined ? "" : JSON.stringify(value);
}

/** Parses JSON read back from the store; `null` column means "no value". */
export function parseJson(text: string | null): Json | undefined {
  return text === null ? undefined : (JSON.parse(text) as Json);
}
