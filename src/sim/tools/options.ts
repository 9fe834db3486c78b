import { z } from "zod";
import { LatencySchema } from "../latency.js";

const rate = z.number().min(0).max(1);

export const SimToolFaultsSchema = z
  .object({
    /** Share of calls refused with a 503 before anything happens. */
    errorRate: rate.default(0),
    /** Share of calls that take effect, then lose their response (the connection drops). */
    lostAfterCommitRate: rate.default(0),
  })
  .refine((f) => f.errorRate + f.lostAfterCommitRate <= 1, {
    message: "errorRate + lostAfterCommitRate must not exceed 1",
  });
export type SimToolFaults = z.output<typeof SimToolFaultsSchema>;

export const SERVICES = ["email", "calendar", "crm", "payments", "chat"] as const;

export const SimToolsOptionsSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  /** 0 picks a free port. */
  port: z.number().int().min(0).max(65_535).default(0),
  /** Fault draws and latency derive from it. Default 1. */
  seed: z.number().int().default(1),
  latency: LatencySchema.prefault({}),
  /** Faults for every service without its own entry in `services`. */
  faults: SimToolFaultsSchema.prefault({}),
  services: z.partialRecord(z.enum(SERVICES), SimToolFaultsSchema).default({}),
});
export type SimToolsOptions = z.input<typeof SimToolsOptionsSchema>;
