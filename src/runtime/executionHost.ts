import type { Clock } from "../core/clock.js";
import type { BudgetsOptions } from "../deadletter/budgets.js";
import type { LoopLimits } from "../deadletter/loops.js";
import type { NewDeadLetter } from "../deadletter/types.js";
import type { ToolRunHost } from "../effects/runTool.js";
import type { PayloadWriter } from "../journal/payloads.js";
import type { LlmProvider } from "../providers/types.js";
import type { RunRecord, Store } from "../store/types.js";
import type { Redactor } from "../telemetry/redaction/Redactor.js";
import type { Telemetry } from "../telemetry/Telemetry.js";
import type { Agent } from "./Agent.js";
import type { InlineWaits } from "./inlineWait.js";
import type { LlmHost } from "./llmCall.js";

/** What an execution needs from the Flotilla instance that hosts it. */
export interface ExecutionHost extends LlmHost, ToolRunHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly payloads: PayloadWriter;
  readonly workerId: string;
  /** Sleeps up to this long are waited in-process; longer ones suspend the run. */
  readonly inlineSleepMs: number;
  /** Waits for a child or a signal held in memory, up to `inlineWaitMs`, before the run suspends. */
  readonly inlineWaits: InlineWaits;
  /** How long a step waits out its dependency's outage at most (0: it fails at once). */
  readonly outageWaitMs: number;
  /** How long a stopping run's code may take to unwind before it is finalized anyway. */
  readonly stopGraceMs: number;
  agentByName(name: string): Agent | undefined;
  provider(name?: string): LlmProvider;
  /** Told when a run reaches a state a caller may be waiting for (with the run as it settled). */
  settled(runId: string, run?: RunRecord): void;
  /** Budgets every run draws from (tenant, global) and the prices reservations use. */
  readonly budgets: BudgetsOptions | undefined;
  /** The loop detectors' thresholds for an agent, or false when it opted out. */
  loopThresholds(agent: string): LoopLimits | false;
  /** Told after a dead letter is durable, to route it (redrive, hold, escalate). */
  deadLettered(entry: NewDeadLetter): void;
  warn(message: string, err: unknown): void;
  /** Metrics and spans; none when absent. */
  readonly telemetry?: Telemetry;
  /** Applied to every payload this execution journals; nothing is redacted when absent. */
  readonly redactor?: Redactor;
}
