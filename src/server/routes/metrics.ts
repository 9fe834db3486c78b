import type { Hono } from "hono";
import { requireAllTenants } from "../auth.js";
import type { Env, ServerContext } from "../context.js";
import { queryOf } from "../request.js";
import { NoQuerySchema } from "../schemas.js";

/**
 * `GET /metrics`: Prometheus text (`flotilla.metrics()`): runs by status and
 * dead letters by class read from the store at scrape time, and this
 * process's own series. Store-wide, so only a token for every tenant reads it.
 */
export function metricsRoutes(app: Hono<Env>, ctx: ServerContext): void {
  app.get("/metrics", async (c) => {
    queryOf(c, NoQuerySchema);
    requireAllTenants(c.get("principal"), "/metrics");
    const text = await ctx.flotilla.metrics();
    return c.body(text, 200, { "Content-Type": ctx.flotilla.telemetry.metrics.contentType });
  });
}
