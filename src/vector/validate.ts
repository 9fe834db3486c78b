import type { z } from "zod";
import { parseOptions } from "../core/validate.js";
import { VectorIndexError } from "./errors.js";

/** `parseOptions` answering bad input with a `VectorIndexError` that names the field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  return parseOptions(
    schema,
    value,
    what,
    (message, details) => new VectorIndexError(`invalid ${message}`, details),
  );
}
