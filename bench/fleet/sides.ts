import type { DependencySnapshot } from "../../src/fleet/metrics.js";
import type { CallRecord } from "./measure.js";
import { tenantOf, traceOf } from "./workload.js";

/**
 * One side of the comparison — the naive stack or Flotilla — as the
 * workloads drive it: tasks of LLM calls, each call recorded when answered.
 */
export interface FleetSide {
  readonly name: string;
  /** Runs one task of `calls` calls in sequence; rejects when one fails for good, or when `signal` aborts. */
  runTask(thread: number, task: number, calls: number, signal: AbortSignal): Promise<void>;
  /** What only this side can report. */
  figures(): SideFigures;
  close(): Promise<void>;
}

export interface SideFigures {
  /** How the naive client retries. */
  client?: string;
  /** Flotilla: the 99th percentile of the fleet scheduler's queue waits. */
  p99QueueWaitMs?: number;
  /** Flotilla: the fleet scheduler's view of the dependency at the end. */
  limiter?: DependencySnapshot | null;
}

/** The answered calls of one measurement, timed from its start. */
export class CallLog {
  readonly calls: CallRecord[] = [];
  private t0 = Date.now();

  start(): void {
    this.t0 = Date.now();
    this.calls.length = 0;
  }

  /** ms since `start`. */
  elapsed(): number {
    return Date.now() - this.t0;
  }

  /** Records an answer to the prompt `text` (whose first words name its thread and task). */
  answered(text: string, inputTokens: number, outputTokens: number): void {
    const { thread, task } = traceOf(text);
    this.calls.push({
      at: this.elapsed(),
      thread,
      task,
      tenant: tenantOf(thread),
      inputTokens,
      outputTokens,
    });
  }
}
