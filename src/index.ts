export { Flotilla } from "./runtime/Flotilla.js";
export type { FlotillaOptions, StartOptions } from "./runtime/Flotilla.js";
export { RunHandle } from "./runtime/RunHandle.js";
export type { EffectDecision } from "./effects/resolve.js";
export { RunContext } from "./runtime/RunContext.js";
export type { Branch, LlmOptions, WaitForOptions } from "./runtime/RunContext.js";
export type { Agent, AgentFn, AgentOptions } from "./runtime/Agent.js";
export { Worker } from "./runtime/Worker.js";
export type { WorkerOptions } from "./runtime/workerOptions.js";
export { ToolRejectedError } from "./effects/Tool.js";
export type {
  Tool,
  ToolSpec,
  EffectKind,
  ToolCallContext,
  Reconciliation,
} from "./effects/Tool.js";
export type {
  CancelReceipt,
  DeferredEffect,
  EffectRef,
  InFlightEffect,
  NotStartedEffect,
} from "./saga/receipt.js";
export { approvalSignal } from "./effects/gate.js";
export { UndoIncompleteError } from "./saga/undoTypes.js";
export type {
  PlannedUndo,
  UndoAction,
  UndoOutcome,
  UndoOutcomeKind,
  UndoPlan,
  UndoReport,
} from "./saga/undoTypes.js";
export type { UndoOptions } from "./saga/undo.js";
export { openStore, DEFAULT_STORE } from "./store/open.js";
export type { Store, RunRecord, RunStatus, JournalEvent } from "./store/types.js";
export * from "./core/errors.js";
export type { Clock } from "./core/clock.js";
export type { Json } from "./core/json.js";
export type * from "./providers/types.js";
export * from "./fleet/index.js";
export { Resilience } from "./resilience/Resilience.js";
export type { ResilienceOptions, DependencyPolicyInput } from "./resilience/Resilience.js";
export type { LlmResult, Provenance, OnFailure, LlmPolicy } from "./runtime/llmCall.js";
export * from "./providers/index.js";
export { DEAD_LETTER_CLASSES, classOf } from "./deadletter/taxonomy.js";
export type { DeadLetterClass } from "./deadletter/taxonomy.js";
export type {
  DeadLetter,
  DeadLetterContext,
  DeadLetterFilter,
  DeadLetterStatus,
} from "./deadletter/types.js";
export type { BudgetLimits, BudgetsOptions } from "./deadletter/budgets.js";
export { DEFAULT_LOOP_THRESHOLDS } from "./deadletter/loops.js";
export type { LoopThresholds } from "./deadletter/loops.js";
export type { RedrivePatch, RedriveOptions, BulkRedriveOptions } from "./deadletter/redrive.js";
export type { RetryOptions } from "./runtime/retryRun.js";
export { signPayload, verifySignature } from "./deadletter/routes.js";
export type { Route, Routes } from "./deadletter/routes.js";
export { region } from "./state/regions.js";
export type {
  ClaimSpec,
  CustomReducer,
  DocConflict,
  DocSpec,
  FindingsSpec,
  Region,
  RegionSpec,
  ScratchSpec,
} from "./state/regions.js";
export type { BuiltinReducer } from "./state/reducers.js";
export { StateHandle } from "./state/StateHandle.js";
export type {
  ClaimState,
  DocState,
  FindingsState,
  HistoryOptions,
  ReadOptions,
  ScratchState,
  StateFor,
  StateReceipt,
  UpdateFn,
  WatchOptions,
  WriteOptions,
} from "./state/types.js";
export { regionState, RegionState } from "./state/outside.js";
export type { RegionStateOptions } from "./state/outside.js";
export {
  ClaimLostError,
  StateConflictError,
  StateIsolationError,
  StateRegionMismatchError,
  StateRegionUnknownError,
} from "./state/errors.js";
export type {
  ClaimedItem,
  ClaimItemRecord,
  Isolation,
  StateHistoryEntry,
  StateProvenance,
  StateValue,
} from "./store/stateTypes.js";
export { SqlTool } from "./sql/SqlTool.js";
export type { SqlApprovalRequest, SqlResult } from "./sql/SqlTool.js";
export type { SqlToolOptions } from "./sql/options.js";
export { APPROVE_SQL } from "./sql/approval.js";
export { classifySql } from "./sql/classify.js";
export type {
  ClassifiedStatement,
  SqlClass,
  SqlClassification,
  SqlDialect,
} from "./sql/classify.js";
export type { GuardedTable, Row, RowChange, SqlParam } from "./sql/database.js";
export { guardTables } from "./sql/guard.js";
export type { RollbackOptions } from "./sql/rollbackRun.js";
export type {
  RestoredRow,
  RollbackReport,
  RowAction,
  RowConflict,
  SideChannelNote,
} from "./sql/rollbackTypes.js";
export {
  SqlApprovalDeniedError,
  SqlNotGuardedError,
  SqlParseError,
  SqlRefusedError,
  SqlRollbackConflictError,
  SqlRowLimitError,
  SqlStatementError,
  SqlUnavailableError,
  SqlUnknownTableError,
} from "./sql/errors.js";
export type { SqlRefusal } from "./sql/errors.js";
export * from "./consistency/index.js";
export * from "./telemetry/index.js";
