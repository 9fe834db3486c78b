/** Consistency across parallel calls (capability 12): ctx.decide pins, ctx.reconcile at fan-in. */
export { DECISIONS, decisionKey, readDecision, type Decision } from "./decisions.js";
export { ReconcileTieError } from "./errors.js";
export { escalatedConflicts, reconcileSignal, type Escalation } from "./policies/escalate.js";
export type { Assertion, AssertionSource } from "./assertions.js";
export type { Candidate } from "./conflicts.js";
export type {
  ReAskOptions,
  Reconciled,
  ReconciledAssertion,
  ReconcileOptions,
  ReconcilePolicy,
  Resolution,
  ResolvedConflict,
  TieRule,
} from "./types.js";
