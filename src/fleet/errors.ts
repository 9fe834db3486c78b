import { FlotillaError, InvalidArgumentError } from "../core/errors.js";

/** Who holds a contended resource, so a timeout says whom to look at. */
export interface ResourceHolder {
  resource: string;
  owner: string;
  units: number;
  /** Epoch ms when the hold began. */
  since: number;
}

/**
 * A resource acquisition gave up waiting. It names the holders, because "timed
 * out" alone sends an operator hunting; "run X has held db.pool for 40 s" does not.
 */
export class ResourceTimeoutError extends FlotillaError {
  readonly holders: readonly ResourceHolder[];

  constructor(owner: string, resources: readonly string[], ms: number, holders: ResourceHolder[]) {
    const named =
      holders.length === 0
        ? "no one holds them (waiters ahead in the queue were served first)"
        : holders.map((h) => `${h.owner} holds ${h.resource}×${h.units}`).join(", ");
    super(
      "FLOTILLA_TIMEOUT",
      `${owner} could not acquire ${resources.join(", ")} within ${ms} ms: ${named}; ` +
        "release them or raise timeoutMs",
      { what: "resource acquisition", ms, owner, resources: [...resources], holders },
    );
    this.holders = holders;
  }
}

/**
 * A holder asked for a resource that sorts before one it already holds.
 * Refused at once: allowing it is how two owners end up waiting on each other.
 */
export class LockOrderError extends InvalidArgumentError {
  constructor(owner: string, requested: string, held: string) {
    super(
      `${owner} holds '${held}' and asked for '${requested}', which sorts before it; ` +
        "acquire resources in one call, or in ascending name order, so no two owners can deadlock",
      { owner, requested, held },
    );
  }
}
