import { z } from "zod";
import type { JournalEvent } from "../store/types.js";
import type { ExecutionOutcome } from "./Execution.js";

export const workerOptionsSchema = z.strictObject({
  /** Runs executed at once. Default 16. */
  concurrency: z.number().int().min(1).max(10_000).default(16),
  /** How long a claim lasts without a heartbeat. Default 30 s. */
  leaseMs: z.number().int().min(50).default(30_000),
  /** Longest idle wait between looks for work when no wake-up arrives. Default 1 s. */
  pollMs: z.number().int().min(5).default(1_000),
  /** Told how each execution ended (for logs: `flotilla worker` prints failures and parks). */
  onEnded: z
    .custom<(ended: ExecutionEnded) => void>((v) => typeof v === "function", "expected a function")
    .optional(),
});

/** How one execution of a run ended. */
export interface ExecutionEnded {
  runId: string;
  agent: string;
  outcome: ExecutionOutcome;
  /** Reads the run's journal from the store (only when asked: most endings need no more). */
  journal(): Promise<JournalEvent[]>;
}

export type WorkerOptions = z.input<typeof workerOptionsSchema>;

/** Worker options with their defaults filled in. */
export type WorkerSettings = z.output<typeof workerOptionsSchema>;
