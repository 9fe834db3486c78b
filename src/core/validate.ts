import type { z } from "zod";
import { InvalidArgumentError } from "./errors.js";

/**
 * Validates a factory's options at the boundary. The error names the field
 * that was wrong and quotes what was received, so a typo in a config file is
 * a one-line fix instead of a stack trace.
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  toError: (message: string, details: { field: string; received: unknown }) => Error = (m, d) =>
    new InvalidArgumentError(m, d),
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String) ?? [];
  const field = path.length > 0 ? `${what}.${path.join(".")}` : what;
  const received = valueAt(input, path);
  throw toError(`${field}: ${issue?.message ?? "invalid"} (received ${describe(received)})`, {
    field,
    received: jsonSafe(received),
  });
}

/** Turns zod's report into one line that names each field and what was wrong. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

function valueAt(input: unknown, path: string[]): unknown {
  let current = input;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A short, always printable account of a value, for error messages (cycles, BigInts and symbols included). */
export function describeValue(value: unknown): string {
  return describe(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (Array.isArray(value) && value.length > 8) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value))
    return `a ${value.constructor.name} of length ${(value as Uint8Array).length}`;
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol" || typeof value === "bigint") return `a ${typeof value}`;
  try {
    const text = JSON.stringify(value);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return "a value that is not JSON";
  }
}

function jsonSafe(value: unknown): unknown {
  if (value === undefined || typeof value === "function") return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return null;
  }
}
