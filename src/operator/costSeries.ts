import { eventData } from "./describeEvent.js";
import type { JournalEvent } from "../store/types.js";

/** Spend in one time bucket: LLM steps completed in it. */
export interface CostBucket {
  start: number;
  usd: number;
  inputTokens: number;
  outputTokens: number;
  llmCalls: number;
}

export interface CostSeries {
  bucketMs: number;
  buckets: CostBucket[];
  total: Omit<CostBucket, "start">;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * Cost over time, bucketed by when each LLM step completed (the journal
 * records its usage and cost with it). Buckets from `from` to `to` are all
 * present, empty ones at zero, so a chart needs no gap filling.
 */
export function costSeries(
  journals: Iterable<readonly JournalEvent[]>,
  options: { bucketMs: number; from: number; to: number },
): CostSeries {
  const { bucketMs } = options;
  const first = Math.floor(options.from / bucketMs) * bucketMs;
  const count = Math.max(1, Math.floor((options.to - first) / bucketMs) + 1);
  const buckets: CostBucket[] = Array.from({ length: count }, (_, i) => ({
    start: first + i * bucketMs,
    usd: 0,
    inputTokens: 0,
    outputTokens: 0,
    llmCalls: 0,
  }));
  const total = { usd: 0, inputTokens: 0, outputTokens: 0, llmCalls: 0 };
  for (const events of journals)
    for (const e of events) {
      if (e.type !== "step.completed" || e.at < first || e.at > options.to) continue;
      const d = eventData(e);
      if (d.kind !== "llm") continue;
      const response = eventData({ data: d.response ?? null });
      const usage = eventData({ data: response.usage ?? null });
      const b = buckets[Math.floor((e.at - first) / bucketMs)];
      if (!b) continue;
      for (const t of [b, total]) {
        t.usd += num(response.costUsd);
        t.inputTokens += num(usage.inputTokens);
        t.outputTokens += num(usage.outputTokens);
        t.llmCalls++;
      }
    }
  return { bucketMs, buckets, total };
}
