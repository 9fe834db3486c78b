import type { Hono } from "hono";
import { isFlotillaError } from "../../core/errors.js";
import { DEAD_LETTER_CLASSES } from "../../deadletter/taxonomy.js";
import { visibleDeadLetter, visibleDeadLetters } from "../access.js";
import type { Env, ServerContext } from "../context.js";
import { bodyOf, idParam, queryOf } from "../request.js";
import {
  DeadLettersQuerySchema,
  DiscardBodySchema,
  NoQuerySchema,
  RedriveBodySchema,
  RedriveClassQuerySchema,
} from "../schemas.js";

/** Dead letters by class; redrive (one, or a class at a rate) and discard, journaled with the token's name. */
export function deadLetterRoutes(app: Hono<Env>, ctx: ServerContext): void {
  const { flotilla } = ctx;
  const store = flotilla.store;

  app.get("/api/dead-letters", async (c) => {
    const q = queryOf(c, DeadLettersQuerySchema);
    const who = c.get("principal");
    const entries = await visibleDeadLetters(store, who, {
      ...(q.class ? { class: q.class } : {}),
      ...(q.status ? { status: q.status } : {}),
      limit: q.limit ?? 100,
    });
    const byClass: Record<string, number> = Object.fromEntries(
      DEAD_LETTER_CLASSES.map((k) => [k, 0]),
    );
    for (const d of entries) byClass[d.class] = (byClass[d.class] ?? 0) + 1;
    return c.json({ deadLetters: entries, byClass });
  });

  // Before /:id, so "redrive" is never taken for an id.
  app.post("/api/dead-letters/redrive", async (c) => {
    const q = queryOf(c, RedriveClassQuerySchema);
    const who = c.get("principal");
    const body = await bodyOf(c, RedriveBodySchema);
    const options = {
      by: who.name,
      ...(body.reason !== undefined ? { reason: body.reason } : {}),
      ...(body.patch ? { patch: body.patch } : {}),
    };
    if (who.tenant === "*")
      return c.json(await flotilla.redriveClass(q.class, { ...options, perSecond: q.rate ?? 5 }));
    // A tenant's token redrives its own entries only, one by one at the same rate.
    const entries = await visibleDeadLetters(store, who, {
      class: q.class,
      status: "open",
      limit: 100,
    });
    const out = { redriven: [] as string[], skipped: [] as { id: string; reason: string }[] };
    for (const [i, entry] of entries.reverse().entries()) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000 / (q.rate ?? 5)));
      try {
        out.redriven.push((await flotilla.redrive(entry.id, options)).id);
      } catch (err) {
        if (!isFlotillaError(err)) throw err;
        out.skipped.push({ id: entry.id, reason: err.message });
      }
    }
    return c.json(out);
  });

  app.get("/api/dead-letters/:id", async (c) => {
    queryOf(c, NoQuerySchema);
    return c.json(await visibleDeadLetter(store, c.get("principal"), idParam(c)));
  });

  app.post("/api/dead-letters/:id/redrive", async (c) => {
    queryOf(c, NoQuerySchema);
    const who = c.get("principal");
    const entry = await visibleDeadLetter(store, who, idParam(c));
    const body = await bodyOf(c, RedriveBodySchema);
    return c.json(
      await flotilla.redrive(entry.id, {
        by: who.name,
        ...(body.reason !== undefined ? { reason: body.reason } : {}),
        ...(body.patch ? { patch: body.patch } : {}),
      }),
    );
  });

  app.post("/api/dead-letters/:id/discard", async (c) => {
    queryOf(c, NoQuerySchema);
    const who = c.get("principal");
    const entry = await visibleDeadLetter(store, who, idParam(c));
    const body = await bodyOf(c, DiscardBodySchema);
    return c.json(await flotilla.discardDeadLetter(entry.id, body.reason, who.name));
  });
}
