import { z } from "zod";
import type { Rng } from "../core/rng.js";

/**
 * Response latency as a log-normal distribution given by its median and
 * 99th percentile, the two figures provider dashboards quote. All zero means
 * no added latency.
 */
export const LatencySchema = z
  .object({
    medianMs: z.number().nonnegative().default(0),
    p99Ms: z.number().nonnegative().default(0),
  })
  .refine((l) => l.p99Ms === 0 || l.p99Ms >= l.medianMs, {
    message: "p99Ms must be at least medianMs",
    path: ["p99Ms"],
  });
export type Latency = z.output<typeof LatencySchema>;

const Z99 = 2.3263;

export function sampleLatency(latency: Latency, rng: Rng): number {
  if (latency.medianMs === 0) return 0;
  if (latency.p99Ms <= latency.medianMs) return latency.medianMs;
  const sigma = Math.log(latency.p99Ms / latency.medianMs) / Z99;
  return Math.round(latency.medianMs * Math.exp(sigma * rng.normal()));
}
