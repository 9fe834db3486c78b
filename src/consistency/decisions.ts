import { InvalidArgumentError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { regionState } from "../state/outside.js";
import { region } from "../state/regions.js";
import { MAX_KEY_LENGTH } from "../state/values.js";
import type { StateProvenance, StateValue } from "../store/stateTypes.js";
import type { Store } from "../store/types.js";

/**
 * Where `ctx.decide` pins its answers: a doc region, so a pin is made by a
 * create-if-absent compare-and-set and carries the state store's provenance
 * (run, step, agent, time) and history.
 */
export const DECISIONS = region("flotilla.decisions", { isolation: "doc" });

/** A pinned decision as the store holds it, with who made it. */
export interface Decision {
  entity: string;
  key: string;
  value: Json;
  /** The pin's version: 1 unless an operator re-pinned it. */
  version: number;
  decidedBy: StateProvenance;
}

/**
 * The decision's key in the `flotilla.decisions` region. JSON of the pair, so
 * no entity/key split is ambiguous (`a/b`+`c` vs `a`+`b/c`).
 */
export function decisionKey(entity: string, key: string): string {
  for (const [field, v] of [
    ["entity", entity],
    ["key", key],
  ] as const) {
    if (typeof v !== "string" || v === "")
      throw new InvalidArgumentError(
        `a decision's ${field} must be a non-empty string, received ${describe(v)}`,
        { field },
      );
  }
  const at = JSON.stringify([entity, key]);
  if (at.length > MAX_KEY_LENGTH)
    throw new InvalidArgumentError(
      `a decision's entity and key must fit in ${MAX_KEY_LENGTH} characters together (as JSON), ` +
        `received ${at.length}`,
      { field: "entity" },
    );
  return at;
}

/** The decision a pin holds, or a typed error when the pin is not one (an operator's bad write). */
export function decisionOf(pin: StateValue): Decision {
  const v = pin.value;
  if (typeof v !== "object" || v === null || Array.isArray(v) || !("value" in v))
    throw new InvalidArgumentError(
      `the pin '${pin.key}' in region '${DECISIONS.name}' is not a decision ` +
        `({ entity, key, value }): re-pin it with ifVersion ${pin.version}`,
      { field: "value", key: pin.key },
    );
  const [entity, key] = JSON.parse(pin.key) as [string, string];
  return { entity, key, value: v.value, version: pin.version, decidedBy: pin.writtenBy };
}

/**
 * A pinned decision read from outside any run (an operator, a dashboard, a
 * test), or null when nothing is decided yet. To overrule a decision, write
 * `{ entity, key, value }` to `regionState(host, DECISIONS)` at
 * `decisionKey(entity, key)` with `ifVersion` the pin's version: later
 * `ctx.decide` calls read the new value; runs that already read the old one
 * keep it on replay.
 */
export async function readDecision(
  host: { readonly store: Store } | Store,
  entity: string,
  key: string,
): Promise<Decision | null> {
  const pin = await regionState(host, DECISIONS).read(decisionKey(entity, key));
  return pin ? decisionOf(pin) : null;
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  return JSON.stringify(value)?.slice(0, 60) ?? typeof value;
}
