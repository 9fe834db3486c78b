import type { SerializedError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import type { DeadLetterClass } from "./taxonomy.js";

/** open → redriven | discarded (operator), or resolved (a parked effect was decided). */
export type DeadLetterStatus = "open" | "redriven" | "discarded" | "resolved";

export const DEAD_LETTER_STATUSES: readonly DeadLetterStatus[] = [
  "open",
  "redriven",
  "discarded",
  "resolved",
];

/** One entry of the dead-letter queue: a run that could not complete, with what an operator needs. */
export interface DeadLetter {
  id: string;
  runId: string;
  /** The root of the run's tree: its budget is the one children draw from. */
  rootId: string;
  agent: string;
  tenant: string | null;
  class: DeadLetterClass;
  status: DeadLetterStatus;
  error: SerializedError | null;
  context: DeadLetterContext;
  /** Who closed the entry, when and why (redrive or discard). */
  resolution: Json | null;
  createdAt: number;
  updatedAt: number;
}

export type NewDeadLetter = Omit<DeadLetter, "status" | "resolution" | "createdAt" | "updatedAt">;

export interface DeadLetterUpdate {
  id: string;
  status: DeadLetterStatus;
  resolution: Json;
}

export interface DeadLetterFilter {
  class?: DeadLetterClass;
  status?: DeadLetterStatus;
  runId?: string;
  limit?: number;
}

/** Everything the journal says an operator needs to decide: derived at capture. */
export interface DeadLetterContext {
  input: Json;
  /** The last step whose outcome is durable: a redrive resumes after it. */
  checkpoint: { eventId: number; step: string } | null;
  partialResults: { step: string; kind: string; name: string; value: Json }[];
  attempts: {
    step: string | null;
    kind: string;
    name: string;
    error: SerializedError;
    chain: SerializedError[];
  }[];
  cost: { usd: number; inputTokens: number; outputTokens: number; llmCalls: number };
  effects: { step: string; tool: string; key: string; state: string }[];
  steps: number;
}
