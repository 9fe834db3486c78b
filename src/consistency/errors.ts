import { FlotillaError } from "../core/errors.js";
import { canonicalJson } from "../core/json.js";
import type { Candidate } from "./conflicts.js";

/**
 * A vote (or prefer-pinned with no pin) found no single value asserted by
 * the most branches. Picking one would be a silent guess, so it fails unless
 * the call says what a tie does (`onTie`).
 */
export class ReconcileTieError extends FlotillaError {
  constructor(entity: string, key: string, tied: readonly Candidate[]) {
    const list = tied
      .map((c) => `${canonicalJson(c.value).slice(0, 60)} (branches ${c.branches.join(", ")})`)
      .join(" vs ");
    super(
      "FLOTILLA_RECONCILE_TIE",
      `the branches are tied on '${entity}' ${key}: ${list}; pass onTie: "escalate" or "re-ask" ` +
        `to ctx.reconcile, pin the fact with ctx.decide, or fan out to an odd number of branches`,
      { entity, key, tied: tied.map((c) => ({ value: c.value, branches: [...c.branches] })) },
    );
  }
}
