import type { Json } from "../core/json.js";
import type { StepSeen } from "../deadletter/loops.js";
import type { StepWork } from "../runtime/RunContext.js";
import type { Assertion, AssertionSource } from "./assertions.js";
import type { Candidate } from "./conflicts.js";

/**
 * How `ctx.reconcile` settles a conflict:
 * - `prefer-pinned`: the `ctx.decide` pin for the entity's key wins (a pin
 *   the branches all contradict is a conflict too); with no pin, the value
 *   most branches asserted is pinned with `ctx.decide` (a tie: see `onTie`);
 * - `vote`: the value most branches asserted (a tie: see `onTie`);
 * - `escalate`: a human chooses, by signalling the run (see `reconcileSignal`);
 * - `re-ask`: one more model call that is shown the conflicting values and
 *   must answer with one of them.
 */
export type ReconcilePolicy = "prefer-pinned" | "vote" | "escalate" | "re-ask";

/** What a tie for the most support does under `vote` and `prefer-pinned`. */
export type TieRule = "fail" | "escalate" | "re-ask";

export interface ReAskOptions {
  model: string;
  /** A registered provider's name. Default: the default provider. */
  provider?: string;
  /** Default 0: the tie-break should not be another sample of the disagreement. */
  temperature?: number;
  /** Text the model should see besides the candidates (the case, the sources). */
  context?: string;
  maxTokens?: number;
}

export interface ReconcileOptions<O> {
  /** Where each branch's assertions are (see AssertionSource). */
  assertions: AssertionSource<O>;
  policy: ReconcilePolicy;
  /**
   * `vote` and `prefer-pinned` only: a tie for the most support fails with
   * FLOTILLA_RECONCILE_TIE (`"fail"`, the default), waits for a human
   * (`"escalate"`), or asks the model to choose among the tied values (`"re-ask"`).
   */
  onTie?: TieRule;
  /**
   * Pin each resolved value with `ctx.decide`, so later asks and runs get it;
   * a value pinned meanwhile wins over ours. `prefer-pinned` always pins.
   * Default false.
   */
  pin?: boolean;
  /** The model call of `re-ask` (and of `onTie: "re-ask"`). Required by them. */
  reAsk?: ReAskOptions;
  /** `escalate`: give up waiting for the human after this long (FLOTILLA_TIMEOUT). Default: wait. */
  escalate?: { timeoutMs?: number };
}

/** How a conflict was settled. */
export type Resolution = "pinned" | "majority" | "re-ask" | "human";

export interface ResolvedConflict {
  entity: string;
  key: string;
  /** What the branches said, most asserted first. */
  candidates: Candidate[];
  /** The value handed on. */
  value: Json;
  /** The policy in force (a tie escalated under `vote` still says `vote`). */
  policy: ReconcilePolicy;
  resolution: Resolution;
  /** The value is now the pinned decision for the entity's key. */
  pinned: boolean;
  /** Why this value, in words for a timeline. */
  note: string;
}

/** One value per (entity, key): agreed ones as asserted, conflicting ones as resolved. */
export interface ReconciledAssertion extends Assertion {
  /** Branches that asserted this value (none when a pin or a human chose another). */
  branches: number[];
  /** True when the branches disagreed or contradicted a pin: see `conflicts`. */
  conflict: boolean;
}

export interface Reconciled {
  policy: ReconcilePolicy;
  /** Outputs reconciled. */
  branches: number;
  /** Assertions found in them. */
  asserted: number;
  assertions: ReconciledAssertion[];
  /** Every conflict found, and how it was resolved: none is passed on unresolved. */
  conflicts: ResolvedConflict[];
  /** Conflicts by how they were resolved. */
  resolvedBy: Partial<Record<Resolution, number>>;
}

/** A journaled step of kind `reconcile` (RunContext's own step protocol). */
export type ReconcileStepRunner = <T>(
  name: string,
  body: (step: string) => Promise<StepWork<T>>,
  seen?: (value: T) => StepSeen,
) => Promise<T>;
