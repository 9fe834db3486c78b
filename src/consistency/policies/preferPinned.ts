import type { RunContext } from "../../runtime/RunContext.js";
import { sameValue } from "../assertions.js";
import type { Subject } from "../conflicts.js";
import { DECISIONS, decisionKey, decisionOf, type Decision } from "../decisions.js";
import type { Verdict } from "./verdict.js";

/** The decision pinned for the subject, read as a journaled step; null when none is. */
export async function pinOf(ctx: RunContext, s: Subject): Promise<Decision | null> {
  const pin = await ctx.state(DECISIONS).read(decisionKey(s.entity, s.key));
  return pin ? decisionOf(pin) : null;
}

/**
 * `prefer-pinned`, when the subject has a pin: the pin wins. A conflict when
 * any branch said otherwise (all of them agreeing on another value included);
 * undefined when every branch asserted the pinned value.
 */
export function pinnedVerdict(s: Subject, pin: Decision): Verdict | undefined {
  if (s.candidates.every((c) => sameValue(c.value, pin.value))) return undefined;
  const by = pin.decidedBy;
  return {
    value: pin.value,
    resolution: "pinned",
    pinned: true,
    note: `pinned by ${by.runId ? `run ${by.runId} (${by.agent ?? "?"}) at step ${by.step ?? "?"}` : (by.agent ?? "an operator")}`,
  };
}
