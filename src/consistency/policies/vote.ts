import { leaders, plurality, type Subject } from "../conflicts.js";
import type { Verdict } from "./verdict.js";

/** `vote`: the value asserted by more branches than any other; a tie for the most is a tie. */
export function vote(s: Subject, branches: number): Verdict {
  const top = plurality(s);
  if (!top) return { tie: leaders(s) };
  return {
    value: top.value,
    resolution: "majority",
    pinned: false,
    note: `asserted by ${top.branches.length} of ${branches} branches`,
  };
}
