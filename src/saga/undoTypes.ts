import { FlotillaError, type SerializedError } from "../core/errors.js";
import type { Json } from "../core/json.js";

/** What undo will do about one effect, decided from the journal before anything runs. */
export type UndoAction =
  /** The tool has an inverse: call it. */
  | "compensate"
  /** No inverse (irreversible, or idempotent without `compensate`): named, never hidden. */
  | "not-reversible"
  /** The effect's outcome is unknown (parked): undo finds out first, then compensates if it happened. */
  | "check-outcome";

/** One committed (or unsettled) effect of the run or of one of its children. */
export interface PlannedUndo {
  /** The run that performed it: the undone run or one of its descendants. */
  runId: string;
  step: string;
  tool: string;
  /** The effect's idempotency key. */
  key: string;
  /** The tool's effect kind as journaled with the intent. */
  effect: string;
  action: UndoAction;
  /** What the inverse visibly does besides reversing (the tool's `undoSideEffect`). */
  sideEffect?: string;
  /**
   * Undo runs in waves, 0 first: an effect is compensated only after every
   * effect that came after it (so may depend on its result) was.
   */
  wave: number;
}

export interface UndoPlan {
  runId: string;
  /** The undone run and its descendants, whose effects the plan covers. */
  runs: string[];
  /** Newest first: the order of the waves. */
  effects: PlannedUndo[];
}

/** One honest outcome per effect. */
export type UndoOutcomeKind =
  | "undone"
  /** Reversed, and the inverse did something visible of its own (`sideEffect`). */
  | "undone-with-side-effect"
  | "not-reversible"
  /** The inverse failed after its retries: the effect is still in the world (`error`). */
  | "compensation-failed"
  /**
   * Unknown whether the effect is still in the world: its own outcome is
   * unknown (resolve it), or its inverse's answer was lost (undoing again
   * calls the inverse again with its key).
   */
  | "unsettled"
  /** The effect's unknown outcome turned out not to have happened: nothing to undo. */
  | "not-applied";

export interface UndoOutcome extends PlannedUndo {
  outcome: UndoOutcomeKind;
  /** The idempotency key the inverse was called with. */
  compensationKey?: string;
  /** What the inverse returned. */
  result?: Json;
  /** Why the inverse failed, with its cause chain. */
  error?: SerializedError;
}

export interface UndoReport {
  runId: string;
  /** The durable run that performed the undo. */
  undoRunId: string;
  /** True when no effect is left `compensation-failed` or `unsettled`. */
  complete: boolean;
  effects: UndoOutcome[];
  counts: Record<UndoOutcomeKind, number>;
}

/**
 * An undo that left effects in the world (an inverse failed, or an outcome
 * is still unknown). Its run is dead-lettered as `compensation-failed`; the
 * report, in `details.report`, names each such effect and why.
 */
export class UndoIncompleteError extends FlotillaError {
  constructor(readonly report: UndoReport) {
    const left = report.counts["compensation-failed"] + report.counts.unsettled;
    super(
      "FLOTILLA_UNDO_INCOMPLETE",
      `the undo of run ${report.runId} left ${left} effect(s) in the world: ${report.counts["compensation-failed"]} inverse(s) failed, ${report.counts.unsettled} outcome(s) unknown; fix the cause, then undo again (it redrives, repeating nothing)`,
      { report, dontRetry: true },
    );
  }
}
