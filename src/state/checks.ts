import { InvalidArgumentError } from "../core/errors.js";
import type { ClaimItemInput } from "../store/stateTypes.js";
import { checkJson, checkKey } from "./values.js";

/** Most items one put() takes: one transaction each. */
export const MAX_PUT_ITEMS = 10_000;

export function checkVerified(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean")
    throw new InvalidArgumentError(
      `verified must be true or false, received ${JSON.stringify(value)}`,
      {
        field: "verified",
      },
    );
  return value;
}

export function checkLeaseMs(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(
      `leaseMs must be a whole number of ms ≥ 1, received ${JSON.stringify(value) ?? typeof value}`,
      {
        field: "leaseMs",
      },
    );
  return value;
}

/** Items to put: `{ id, value? }` each, ids checked like keys, values plain JSON (default null). */
export function checkClaimItems(region: string, items: unknown): ClaimItemInput[] {
  if (!Array.isArray(items) || items.length > MAX_PUT_ITEMS)
    throw new InvalidArgumentError(
      `put() on claim region '${region}' needs an array of at most ${MAX_PUT_ITEMS} { id, value } items`,
      { field: "items" },
    );
  return items.map((item: unknown, i) => {
    if (typeof item !== "object" || item === null)
      throw new InvalidArgumentError(`item [${i}] of put() must be { id, value }`, {
        field: `items[${i}]`,
      });
    const { id, value } = item as { id?: unknown; value?: unknown };
    return {
      id: checkKey(id, `items[${i}].id`),
      value: value === undefined ? null : checkJson(value, `items[${i}].value`),
    };
  });
}
