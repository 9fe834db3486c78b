import { z } from "zod";
import { InvalidArgumentError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import { describeZodError } from "../core/validate.js";
import type { RunContext } from "../runtime/RunContext.js";
import { SqlApprovalDeniedError, excerpt } from "./errors.js";

/** The signal that decides one destructive statement of a run. */
export const APPROVE_SQL = "approve-sql";

const decisionSchema = z.object({
  approved: z.boolean(),
  reason: z.string().max(2000).optional(),
});

/**
 * Waits for the run's next `approve-sql` signal with the machinery of
 * `ctx.waitFor` (in memory a while, then suspended; the signal consumed is
 * journaled, so a replay does not ask again). `request` has journaled what
 * is to be approved just before. Throws on a denial or a malformed payload.
 */
export async function approveSql(
  ctx: RunContext,
  tool: string,
  sql: string,
  timeoutMs: number | undefined,
): Promise<void> {
  const payload = await ctx.waitFor<unknown>(
    APPROVE_SQL,
    timeoutMs === undefined ? {} : { timeoutMs },
  );
  const decision = decisionSchema.safeParse(payload);
  if (!decision.success) {
    const shown = JSON.stringify(payload) ?? String(payload);
    throw new InvalidArgumentError(
      `the ${APPROVE_SQL} signal is not an approval (${describeZodError(decision.error)}; received ` +
        `${excerpt(shown, 200)}): the statement was not run. Send { approved: boolean, reason?: string }`,
      { tool, signal: APPROVE_SQL, field: "payload", received: (payload ?? null) as Json },
    );
  }
  if (!decision.data.approved) throw new SqlApprovalDeniedError(tool, sql, decision.data.reason);
}
