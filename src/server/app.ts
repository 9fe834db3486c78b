import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { NotFoundError } from "../core/errors.js";
import type { Env, ServerContext } from "./context.js";
import { dashboardPage } from "./dashboard/page.js";
import { ForbiddenError, ServerError, errorResponse } from "./errors.js";
import { isLoopbackHost } from "./loopback.js";
import { actionRoutes } from "./routes/actions.js";
import { costRoutes } from "./routes/cost.js";
import { deadLetterRoutes } from "./routes/deadLetters.js";
import { eventRoutes } from "./routes/events.js";
import { fleetRoutes } from "./routes/fleet.js";
import { metricsRoutes } from "./routes/metrics.js";
import { runRoutes } from "./routes/runs.js";

/** A request body larger than this is refused (a redrive patch is the largest thing sent). */
const MAX_BODY_BYTES = 1024 * 1024;

/** The HTTP API and the dashboard page, on the library's calls. */
export function createApp(ctx: ServerContext): Hono<Env> {
  const app = new Hono<Env>();

  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    c.header("Cache-Control", "no-store");
  });

  // Without tokens anyone who can reach the port acts as operator: only loopback may, and a
  // page on another site must not reach it through a rebound DNS name or a cross-site form.
  app.use("*", async (c, next) => {
    if (!ctx.auth.enabled && !isLoopbackHost(c.req.header("host") ?? ""))
      throw new ForbiddenError(
        "this server has no tokens configured and answers only requests to a loopback address",
      );
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const origin = c.req.header("origin");
      if (origin !== undefined && origin !== new URL(c.req.url).origin)
        throw new ForbiddenError(`requests from origin ${origin.slice(0, 200)} are refused`);
    }
    await next();
  });

  const authenticate: MiddlewareHandler<Env> = async (c, next) => {
    c.set("principal", ctx.auth.authenticate(c.req.header("authorization")));
    await next();
  };
  app.use("/api/*", authenticate);
  app.use("/metrics", authenticate);

  app.use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => {
        const { status, body } = errorResponse(
          new ServerError(
            "FLOTILLA_PAYLOAD_REJECTED",
            413,
            `a request body may hold at most ${MAX_BODY_BYTES} bytes`,
          ),
        );
        // The rest of the body is left unread: the connection cannot carry another request.
        c.header("Connection", "close");
        return c.json(body, status);
      },
    }),
  );

  app.get("/api/me", (c) => {
    const who = c.get("principal");
    return c.json({ name: who.name, tenant: who.tenant, auth: ctx.auth.enabled });
  });
  runRoutes(app, ctx);
  eventRoutes(app, ctx);
  actionRoutes(app, ctx);
  deadLetterRoutes(app, ctx);
  fleetRoutes(app, ctx);
  costRoutes(app, ctx);
  metricsRoutes(app, ctx);

  app.get("/", (c) => {
    const page = dashboardPage();
    c.header("Content-Security-Policy", page.csp);
    return c.html(page.html);
  });
  app.get("/favicon.ico", (c) => c.body(null, 204));

  app.notFound((c) => {
    const { status, body } = errorResponse(
      new NotFoundError("route", `${c.req.method} ${c.req.path.slice(0, 200)}`),
    );
    return c.json(body, status);
  });
  app.onError((err, c) => {
    const { status, body } = errorResponse(err);
    if (status === 500)
      ctx.log(
        `${c.req.method} ${c.req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="flotilla"');
    return c.json(body, status);
  });
  return app;
}
