import type { Json } from "../../core/json.js";
import type { DecideScope } from "../decide.js";
import type { Candidate } from "../conflicts.js";
import type { ReconcileStepRunner, Resolution } from "../types.js";

/** A policy's answer for one conflict: a value and how it was chosen, or the values tied for it. */
export type Verdict = Settled | { tie: Candidate[] };

/** A conflict's value and how it was chosen. */
export interface Settled {
  value: Json;
  resolution: Resolution;
  pinned: boolean;
  note: string;
}

/** What `ctx.reconcile` needs from its context: decide's scope and a journaled step. */
export interface ReconcileScope extends DecideScope {
  step: ReconcileStepRunner;
}
