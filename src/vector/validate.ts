import type { z } from "zod";
import { VectorIndexError, describeReceived } from "./errors.js";

/**
 * Parses `value` with `schema`; on failure throws a `VectorIndexError` naming
 * the first offending field (dotted path under `what`) and the value received.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path ?? [];
  const field = [what, ...path.map(String)].join(".");
  const received = describeReceived(valueAt(value, path));
  throw new VectorIndexError(
    `invalid ${field}: ${issue?.message ?? "rejected"} (received ${JSON.stringify(received) ?? String(received)})`,
    { field, received },
  );
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let cur = value;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}
