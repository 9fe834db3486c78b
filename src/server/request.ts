import type { z } from "zod";
import { InvalidArgumentError } from "../core/errors.js";
import type { Ctx } from "./context.js";
import { ServerError } from "./errors.js";
import { IdSchema, StepSchema, parse } from "./schemas.js";

/** The query string as one value per name; a name given twice is refused, not silently picked. */
export function queryOf<S extends z.ZodType>(c: Ctx, schema: S): z.output<S> {
  const all = c.req.queries();
  const one: Record<string, string> = {};
  for (const [k, values] of Object.entries(all)) {
    if (values.length !== 1)
      throw new InvalidArgumentError(`query parameter '${k}' is given ${values.length} times`, {
        field: `query.${k}`,
      });
    one[k] = values[0] ?? "";
  }
  return parse(schema, one, "query");
}

/** A JSON body (an empty one is `{}`), checked against the schema. */
export async function bodyOf<S extends z.ZodType>(c: Ctx, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== "") {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type))
      throw new ServerError(
        "FLOTILLA_INVALID_ARGUMENT",
        415,
        `a request body must be JSON sent as Content-Type: application/json, received '${type.slice(0, 100)}'`,
        { field: "content-type" },
      );
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      throw new InvalidArgumentError(`the body is not JSON: ${(err as Error).message}`, {
        field: "body",
      });
    }
  }
  return parse(schema, value, "body");
}

/** A run or dead-letter id from the path. */
export function idParam(c: Ctx, name = "id"): string {
  return parse(IdSchema, c.req.param(name), name);
}

export function stepParam(c: Ctx): string {
  return parse(StepSchema, c.req.param("step"), "step");
}
