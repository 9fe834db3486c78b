import { z } from "zod";
import { parseOptions } from "../core/validate.js";
import { DEAD_LETTER_CLASSES, type DeadLetterClass } from "../deadletter/taxonomy.js";
import { RedrivePatchSchema } from "../deadletter/redrive.js";
import { DEAD_LETTER_STATUSES, type DeadLetterStatus } from "../deadletter/types.js";
import { RUN_STATUSES, type RunStatus } from "../store/types.js";

/*
 * What a client may send, checked at the boundary: path ids, query filters,
 * JSON bodies. Unknown query parameters and body fields are refused, so a
 * misspelt filter is an error instead of a silently unfiltered answer.
 */

/** Run and dead-letter ids are UUIDs; step ids are the journal's (`3`, `2.1`, `4.effect`). */
export const IdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID");
export const StepSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be a step id such as 3 or 2.1");

const count = (max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, "must be a positive integer")
    .transform(Number)
    .pipe(z.number().int().min(1).max(max));

const name = z.string().min(1).max(200);

export const RunsQuerySchema = z.strictObject({
  status: z.enum(RUN_STATUSES as unknown as [RunStatus, ...RunStatus[]]).optional(),
  agent: name.optional(),
  tenant: name.optional(),
  limit: count(1000).optional(),
});

export const DeadLettersQuerySchema = z.strictObject({
  class: z
    .enum(DEAD_LETTER_CLASSES as unknown as [DeadLetterClass, ...DeadLetterClass[]])
    .optional(),
  status: z
    .enum(DEAD_LETTER_STATUSES as unknown as [DeadLetterStatus, ...DeadLetterStatus[]])
    .optional(),
  limit: count(1000).optional(),
});

export const BUCKETS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

export const CostQuerySchema = z.strictObject({
  bucket: z.enum(Object.keys(BUCKETS) as [keyof typeof BUCKETS]).optional(),
  /** Hours back from now (default 24, at most 90 days). */
  hours: count(2160).optional(),
  tenant: name.optional(),
});

const timeoutS = count(600);

export const CancelQuerySchema = z.strictObject({
  compensate: z.enum(["true", "false"]).optional(),
  timeout: timeoutS.optional(),
});
export const UndoQuerySchema = z.strictObject({ timeout: timeoutS.optional() });
export const NoQuerySchema = z.strictObject({});

const reason = z.string().max(1000);

export const CancelBodySchema = z.strictObject({ reason: reason.optional() });
export const RetryBodySchema = z.strictObject({ reason: reason.optional() });

export const ResolveBodySchema = z.discriminatedUnion("outcome", [
  z.strictObject({ outcome: z.literal("committed"), result: z.json().optional() }),
  z.strictObject({ outcome: z.literal("retry") }),
  z.strictObject({ outcome: z.literal("failed"), reason: reason.min(1) }),
]);

export const RedriveBodySchema = z.strictObject({
  reason: reason.optional(),
  patch: RedrivePatchSchema.optional(),
});
export const RedriveClassQuerySchema = z.strictObject({
  class: z.enum(DEAD_LETTER_CLASSES as unknown as [DeadLetterClass, ...DeadLetterClass[]]),
  rate: z
    .string()
    .regex(/^\d{1,3}(\.\d+)?$/, "must be a positive number")
    .transform(Number)
    .pipe(z.number().positive().max(100))
    .optional(),
});
export const DiscardBodySchema = z.strictObject({ reason: reason.trim().min(1) });

/** Parses with the library's boundary check: the error names the field and what was received. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  return parseOptions(schema, input, what);
}
