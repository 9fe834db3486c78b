import type { Hono } from "hono";
import type { FleetSnapshot } from "../../fleet/scheduler.js";
import { fleetTotals, readFleetReports, type FleetTotal } from "../../operator/fleetTotals.js";
import type { Principal } from "../auth.js";
import type { Env, ServerContext } from "../context.js";
import { queryOf } from "../request.js";
import { NoQuerySchema } from "../schemas.js";

/** Breaker and retry-budget states workers published within this window are current. */
const BREAKER_MAX_AGE_MS = 60_000;

/** A tenant's token sees the limits and the fleet's totals, and its own tenant's share and queue only. */
function forTenant(total: FleetTotal, who: Principal): FleetTotal {
  if (who.tenant === "*") return total;
  const mine = <T>(r: Record<string, T>) =>
    Object.fromEntries(Object.entries(r).filter(([t]) => t === who.tenant));
  return {
    ...total,
    tenantShare: mine(total.tenantShare),
    queueByTenant: mine(total.queueByTenant),
  };
}

/** `GET /api/fleet`: limits against admitted rates, queues, 429s, tenant shares; breakers per dependency. */
export function fleetRoutes(app: Hono<Env>, ctx: ServerContext): void {
  app.get("/api/fleet", async (c) => {
    queryOf(c, NoQuerySchema);
    const who = c.get("principal");
    const states = await ctx.flotilla.store.readDependencyStates("", BREAKER_MAX_AGE_MS);
    const breakers = states.map((s) => ({
      dependency: s.dependency,
      worker: s.workerId,
      ...(s.state as object),
    }));
    if (ctx.fleetUrl === undefined)
      return c.json({
        backend: null,
        note: "no shared limiter: start flotilla serve with --fleet <postgres:// or redis:// URL> (the one the fleet schedulers use) to see admission",
        processes: [],
        dependencies: [],
        breakers,
      });
    const { backend, reports } = await readFleetReports(ctx.fleetUrl);
    const snapshots = reports.map((r) => r.snapshot as FleetSnapshot);
    return c.json({
      backend,
      processes: reports.map((r) => ({
        reporter: r.reporter,
        ageMs: Math.round(r.ageMs),
        degraded: (r.snapshot as FleetSnapshot).degraded,
      })),
      dependencies: fleetTotals(snapshots).map((t) => forTenant(t, who)),
      breakers,
    });
  });
}
