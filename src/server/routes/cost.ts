import type { Hono } from "hono";
import { InvalidArgumentError } from "../../core/errors.js";
import { costSeries } from "../../operator/costSeries.js";
import { mapLimited } from "../../operator/runSummaries.js";
import { visibleRuns } from "../access.js";
import { ForbiddenError } from "../errors.js";
import type { Env, ServerContext } from "../context.js";
import { queryOf } from "../request.js";
import { BUCKETS, CostQuerySchema } from "../schemas.js";

/** Runs whose journals are read for one chart: the newest ones, so a big store answers in bounded time. */
const MAX_RUNS = 2000;
/** Bars one chart can show. */
const MAX_BUCKETS = 1500;

/** `GET /api/cost`: LLM spend over time in buckets (minute, hour, day), for a chart. */
export function costRoutes(app: Hono<Env>, ctx: ServerContext): void {
  const store = ctx.flotilla.store;
  app.get("/api/cost", async (c) => {
    const q = queryOf(c, CostQuerySchema);
    const who = c.get("principal");
    if (q.tenant !== undefined && who.tenant !== "*" && q.tenant !== who.tenant)
      throw new ForbiddenError(`this token sees tenant ${who.tenant} only`, { tenant: q.tenant });
    const bucket = q.bucket ?? "hour";
    const hours = q.hours ?? 24;
    if ((hours * 3_600_000) / BUCKETS[bucket] > MAX_BUCKETS)
      throw new InvalidArgumentError(
        `query: ${hours} hours in ${bucket} buckets is more than ${MAX_BUCKETS} buckets; choose a bigger bucket or fewer hours`,
        { field: "query.hours", received: hours },
      );
    const to = Date.now();
    const from = to - hours * 3_600_000;
    const runs = await visibleRuns(store, who, { tenant: q.tenant, limit: MAX_RUNS });
    // A run that ended before the window has no LLM step in it.
    const recent = runs.filter((r) => r.updatedAt >= from);
    const journals = await mapLimited(recent, 8, (r) => store.readJournal(r.id));
    return c.json({
      bucket,
      runsScanned: recent.length,
      truncated: runs.length === MAX_RUNS,
      ...costSeries(journals, { bucketMs: BUCKETS[bucket], from, to }),
    });
  });
}
