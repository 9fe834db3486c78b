import { hash } from "node:crypto";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * JSON with object keys sorted, so equal values always hash the same way.
 * `undefined` members are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
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
