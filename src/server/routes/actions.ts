import type { Hono } from "hono";
import { isFlotillaError } from "../../core/errors.js";
import type { EffectDecision } from "../../effects/resolve.js";
import type { Flotilla } from "../../runtime/Flotilla.js";
import type { UndoReport } from "../../saga/undoTypes.js";
import type { Principal } from "../auth.js";
import { undoRunOf, visibleRun } from "../access.js";
import type { Env, ServerContext } from "../context.js";
import { bodyOf, idParam, queryOf, stepParam } from "../request.js";
import {
  CancelBodySchema,
  CancelQuerySchema,
  NoQuerySchema,
  ResolveBodySchema,
  RetryBodySchema,
  UndoQuerySchema,
} from "../schemas.js";

/** How long an HTTP request waits for an undo's report by default; the undo goes on after. */
const UNDO_WAIT_S = 30;

/** An undo's report, or (past the wait) where to follow it: the undo is a durable run that goes on. */
async function undoWithin(
  flotilla: Flotilla,
  runId: string,
  seconds: number,
  by: string,
): Promise<{ report: UndoReport } | { pending: { undoRunId: string | null; message: string } }> {
  try {
    return { report: await flotilla.undo(runId, { timeoutMs: seconds * 1000, by }) };
  } catch (err) {
    if (!isFlotillaError(err, "FLOTILLA_TIMEOUT")) throw err;
    const undo = await undoRunOf(flotilla.store, runId);
    return {
      pending: {
        undoRunId: undo?.id ?? null,
        message: `the undo did not finish within ${seconds} s; it goes on (the workers that define the run's tools perform it): follow GET /api/runs/${runId}`,
      },
    };
  }
}

/** A cancel's journaled reason names who asked: the library's cancel takes a reason, no `by`. */
function cancelReason(who: Principal, reason: string | undefined): string {
  return reason ? `${reason} (by ${who.name})` : `cancelled by ${who.name}`;
}

/** Cancel, retry, resolve, undo: each journaled with the token's name. */
export function actionRoutes(app: Hono<Env>, ctx: ServerContext): void {
  const { flotilla } = ctx;
  const store = flotilla.store;

  app.post("/api/runs/:id/cancel", async (c) => {
    const q = queryOf(c, CancelQuerySchema);
    const who = c.get("principal");
    const run = await visibleRun(store, who, idParam(c));
    const body = await bodyOf(c, CancelBodySchema);
    const receipt = await flotilla.cancel(run.id, {
      reason: cancelReason(who, body.reason),
      ...(q.timeout ? { timeoutMs: q.timeout * 1000 } : {}),
    });
    if (q.compensate !== "true") return c.json(receipt);
    const undo = await undoWithin(flotilla, run.id, q.timeout ?? UNDO_WAIT_S, who.name);
    return "report" in undo
      ? c.json({ ...receipt, undo: undo.report })
      : c.json({ ...receipt, undoPending: undo.pending }, 202);
  });

  app.post("/api/runs/:id/retry", async (c) => {
    queryOf(c, NoQuerySchema);
    const who = c.get("principal");
    const run = await visibleRun(store, who, idParam(c));
    const body = await bodyOf(c, RetryBodySchema);
    await flotilla.retry(run.id, {
      by: who.name,
      ...(body.reason !== undefined ? { reason: body.reason } : {}),
    });
    return c.json({ runId: run.id, status: "pending", by: who.name, reason: body.reason ?? null });
  });

  app.post("/api/runs/:id/effects/:step/resolve", async (c) => {
    queryOf(c, NoQuerySchema);
    const who = c.get("principal");
    const run = await visibleRun(store, who, idParam(c));
    const step = stepParam(c);
    const body = await bodyOf(c, ResolveBodySchema);
    const decision: EffectDecision =
      body.outcome === "committed"
        ? { outcome: "committed", result: body.result ?? null }
        : body.outcome === "retry"
          ? { outcome: "retry" }
          : { outcome: "failed", reason: body.reason };
    await flotilla.resolveEffect(run.id, step, decision, who.name);
    return c.json({ runId: run.id, step, decision: decision.outcome, by: who.name });
  });

  app.post("/api/runs/:id/undo", async (c) => {
    const q = queryOf(c, UndoQuerySchema);
    const who = c.get("principal");
    const run = await visibleRun(store, who, idParam(c));
    await bodyOf(c, NoQuerySchema);
    const undo = await undoWithin(flotilla, run.id, q.timeout ?? UNDO_WAIT_S, who.name);
    return "report" in undo ? c.json(undo.report) : c.json(undo.pending, 202);
  });
}
