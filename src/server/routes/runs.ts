import type { Hono } from "hono";
import type { Json } from "../../core/json.js";
import { runSummaries } from "../../operator/runSummaries.js";
import { runView } from "../../operator/runView.js";
import type { UndoReport } from "../../saga/undoTypes.js";
import type { RunRecord } from "../../store/types.js";
import { undoRunOf, visibleDeadLetters, visibleRun, visibleRuns } from "../access.js";
import { ForbiddenError } from "../errors.js";
import type { Env, ServerContext } from "../context.js";
import { idParam, queryOf } from "../request.js";
import { NoQuerySchema, RunsQuerySchema } from "../schemas.js";

/** What is known of a run's undo: its durable run and, once it ended, its report. */
function undoState(undo: RunRecord | undefined): Json {
  if (!undo) return null;
  const incomplete = undo.error?.details?.report;
  const report = (undo.status === "completed" ? undo.result : (incomplete ?? null)) as
    UndoReport | null | undefined;
  return { undoRunId: undo.id, status: undo.status, report: (report ?? null) as unknown as Json };
}

/** `GET /api/runs`, `GET /api/runs/:id`, `GET /api/runs/:id/undo-plan`. */
export function runRoutes(app: Hono<Env>, ctx: ServerContext): void {
  const store = ctx.flotilla.store;

  app.get("/api/runs", async (c) => {
    const q = queryOf(c, RunsQuerySchema);
    const who = c.get("principal");
    if (q.tenant !== undefined && who.tenant !== "*" && q.tenant !== who.tenant)
      throw new ForbiddenError(`this token sees tenant ${who.tenant} only`, { tenant: q.tenant });
    const runs = await visibleRuns(store, who, {
      ...(q.status ? { status: q.status } : {}),
      ...(q.agent ? { agent: q.agent } : {}),
      tenant: q.tenant,
      limit: q.limit ?? 50,
    });
    return c.json({ runs: await runSummaries(store, runs) });
  });

  app.get("/api/runs/:id", async (c) => {
    queryOf(c, NoQuerySchema);
    const who = c.get("principal");
    const run = await visibleRun(store, who, idParam(c));
    const [events, children, deadLetters, undo] = await Promise.all([
      store.readJournal(run.id),
      store.listRuns({ parentId: run.id, limit: 1000 }),
      visibleDeadLetters(store, who, { runId: run.id, limit: 100 }),
      undoRunOf(store, run.id),
    ]);
    const view = runView(run, events);
    const byId = new Map(children.map((r) => [r.id, r]));
    return c.json({
      run,
      ...view,
      children: view.children.map((ch) => {
        const child = byId.get(ch.runId);
        return { ...ch, agent: child?.agent ?? null, status: child?.status ?? null };
      }),
      deadLetters,
      undo: undoState(undo),
    });
  });

  app.get("/api/runs/:id/undo-plan", async (c) => {
    queryOf(c, NoQuerySchema);
    const run = await visibleRun(store, c.get("principal"), idParam(c));
    return c.json(await ctx.flotilla.undoPlan(run.id));
  });
}
