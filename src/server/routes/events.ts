import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { timelineOf } from "../../operator/runView.js";
import { visibleRun } from "../access.js";
import type { Env, ServerContext } from "../context.js";
import { idParam, queryOf } from "../request.js";
import { NoQuerySchema } from "../schemas.js";

/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/** Waits `ms`, or less if the signal aborts; leaves no listener behind. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * `GET /api/runs/:id/events`: Server-Sent Events of a run as its journal
 * grows. `journal` events carry one timeline entry each (id = the journal
 * event's id, so a reconnect with Last-Event-ID resumes after it), `run`
 * events the run's status when it changes. Read from the store, so runs
 * executed by any worker on it are followed.
 */
export function eventRoutes(app: Hono<Env>, ctx: ServerContext): void {
  const store = ctx.flotilla.store;
  app.get("/api/runs/:id/events", async (c) => {
    queryOf(c, NoQuerySchema);
    const run = await visibleRun(store, c.get("principal"), idParam(c));
    const resume = Number(c.req.header("last-event-id") ?? "0");
    const stop = new AbortController();
    ctx.streams.add(stop);
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => stop.abort());
      let last = Number.isSafeInteger(resume) && resume > 0 ? resume : 0;
      let status: string | undefined;
      let quietSince = Date.now();
      try {
        while (!stop.signal.aborted) {
          const [current, events] = await Promise.all([
            store.getRun(run.id),
            store.readJournal(run.id),
          ]);
          if (current && current.status !== status) {
            status = current.status;
            await stream.writeSSE({
              event: "run",
              data: JSON.stringify({
                id: current.id,
                status: current.status,
                updatedAt: current.updatedAt,
              }),
            });
            quietSince = Date.now();
          }
          const fresh = events.filter((e) => e.id > last);
          for (const entry of timelineOf(fresh, events[0]?.at ?? run.createdAt)) {
            await stream.writeSSE({
              event: "journal",
              id: String(entry.id),
              data: JSON.stringify(entry),
            });
            last = entry.id;
            quietSince = Date.now();
          }
          if (Date.now() - quietSince >= HEARTBEAT_MS) {
            await stream.write(": heartbeat\n\n");
            quietSince = Date.now();
          }
          await pause(ctx.pollMs, stop.signal);
        }
      } catch (err) {
        // A client gone mid-write is the usual end; anything else is said, without internals.
        if (!stop.signal.aborted && !stream.aborted) {
          ctx.log(`live stream of run ${run.id} ended: ${(err as Error).message}`);
          await stream
            .writeSSE({
              event: "error",
              data: JSON.stringify({ code: "FLOTILLA_INTERNAL", message: "the stream failed" }),
            })
            .catch(() => undefined);
        }
      } finally {
        ctx.streams.delete(stop);
      }
    });
  });
}
