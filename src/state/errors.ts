import { FlotillaError } from "../core/errors.js";
import type { Isolation } from "../store/stateTypes.js";

/** `ctx.state(name)` named a region nobody declared in this process. */
export class StateRegionUnknownError extends FlotillaError {
  constructor(name: string, known: readonly string[]) {
    super(
      "FLOTILLA_STATE_UNKNOWN_REGION",
      `no state region '${name}' is declared in this process: declare it with ` +
        `region('${name}', { isolation, ... }) before using it` +
        (known.length > 0 ? ` (declared: ${known.join(", ")})` : ""),
      { region: name, known: [...known] },
    );
  }
}

/**
 * A region declared differently from its first declaration (in this process,
 * or in the store by another worker). Two reducers for one key would corrupt
 * it silently, so the second declaration is refused.
 */
export class StateRegionMismatchError extends FlotillaError {
  constructor(name: string, declared: string, requested: string, where: "process" | "store") {
    super(
      "FLOTILLA_STATE_REGION_MISMATCH",
      `state region '${name}' is declared as ${declared} ${where === "store" ? "in the store" : "in this process"}, ` +
        `not ${requested}: use another region name, or deploy one declaration everywhere`,
      { region: name, declared, requested, where },
    );
  }
}

/** An operation the region's isolation does not offer (take() on a findings region, …). */
export class StateIsolationError extends FlotillaError {
  constructor(name: string, isolation: Isolation, op: string, offered: readonly string[]) {
    super(
      "FLOTILLA_STATE_WRONG_ISOLATION",
      `${op}() is not an operation of state region '${name}' (isolation '${isolation}'); ` +
        `it offers ${offered.join(", ")}`,
      { region: name, isolation, op, offered: [...offered] },
    );
  }
}

/**
 * A compare-and-set lost: the key moved past the version the write was based
 * on (`write(key, value, { ifVersion })`), or `update` kept losing for its
 * whole budget of attempts. Nothing was written.
 */
export class StateConflictError extends FlotillaError {
  constructor(
    region: string,
    key: string,
    details: { expected: number; current: number; attempts: number },
  ) {
    super(
      "FLOTILLA_STATE_CONFLICT",
      details.attempts > 1
        ? `state '${region}/${key}' kept changing: ${details.attempts} updates lost their ` +
            `compare-and-set (now at version ${details.current}); declare a merge for the region ` +
            `or raise maxAttempts`
        : `state '${region}/${key}' is at version ${details.current}, not ${details.expected}: ` +
            `read it again and rebase the change`,
      { region, key, ...details },
    );
  }
}

/** done() or release() of a claim item the run does not hold (its lease expired and another run took it). */
export class ClaimLostError extends FlotillaError {
  constructor(
    region: string,
    item: string,
    runId: string,
    found: { status: string; holder: string | null },
  ) {
    super(
      "FLOTILLA_CLAIM_LOST",
      found.status === "missing"
        ? `claim item '${item}' does not exist in region '${region}'`
        : `run ${runId} no longer holds claim item '${item}' of region '${region}' ` +
            `(it is ${found.status}${found.holder ? ` by run ${found.holder}` : ""}): ` +
            `its lease expired and it went to another run; take a longer lease (leaseMs) for slow work`,
      { region, item, runId, ...found },
    );
  }
}
