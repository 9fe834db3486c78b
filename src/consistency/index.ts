/** Consistency across parallel calls (capability 12): ctx.decide pins, ctx.reconcile at fan-in. */
export { DECISIONS, decisionKey, readDecision, type Decision } from "./decisions.js";
