import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { systemClock, type Clock } from "../../core/clock.js";
import { canonicalJson } from "../../core/json.js";
import { parseOptions } from "../../core/validate.js";
import {
  BadRequest,
  clientGone,
  dropConnection,
  listen,
  readJson,
  sendJson,
  shutDown,
} from "../http.js";
import { sampleLatency } from "../latency.js";
import { rngFor } from "../../core/rng.js";
import { EffectLedger, type SimDuplicate, type SimEffect } from "./ledger.js";
import { OperationError, type Operation, type OperationContext } from "./operation.js";
import { SimToolsOptionsSchema, type SimToolsOptions } from "./options.js";
import { calendarOperations } from "./services/calendar.js";
import { chatOperations } from "./services/chat.js";
import { crmOperations } from "./services/crm.js";
import { emailOperations } from "./services/email.js";
import { paymentOperations } from "./services/payments.js";
import { emptyWorld } from "./world.js";

const OPERATIONS: Operation<unknown>[] = [
  ...emailOperations,
  ...calendarOperations,
  ...crmOperations,
  ...paymentOperations,
  ...chatOperations,
];

export interface SimToolsStats {
  requests: number;
  /** Calls that took effect (including lost-after-commit ones). */
  performed: number;
  /** Repeats answered from a stored idempotency key, without acting again. */
  replayed: number;
  injectedErrors: number;
  lostAfterCommit: number;
  /** Refusals on purpose: bad arguments, unknown ids, conflicts. */
  rejected: number;
}

export interface SimTools {
  url: string;
  port: number;
  effects(): SimEffect[];
  duplicates(): SimDuplicate[];
  stats(): SimToolsStats;
  /** What each operation promises: idempotency, inverse, side effects of the inverse. */
  catalog(): CatalogEntry[];
  /** Empties the world, the ledger, the counters and stored idempotency keys. */
  reset(): void;
  close(): Promise<void>;
}

export interface CatalogEntry {
  operation: string;
  effect: "read" | "write";
  honoursIdempotencyKey: boolean;
  inverse?: string;
  inverseSideEffect?: string;
}

interface Stored {
  args: string;
  status: number;
  body: unknown;
}

/**
 * Starts the simulated tool world: email, calendar, CRM, payments and chat
 * services on loopback HTTP (`POST /{service}/{operation}`, JSON arguments,
 * optional `Idempotency-Key` header). Each records every effect it performs.
 * Query endpoints: `GET /_sim/effects`, `/_sim/duplicates`, `/_sim/stats`,
 * `/_sim/catalog`; `POST /_sim/reset`.
 */
export async function startSimTools(
  options: SimToolsOptions = {},
  hooks: { clock?: Clock } = {},
): Promise<SimTools> {
  const config = parseOptions(SimToolsOptionsSchema, options, "sim tools options");
  const clock = hooks.clock ?? systemClock;
  const ledger = new EffectLedger();
  let world = emptyWorld();
  let stored = new Map<string, Stored>();
  let counters = new Map<string, number>();
  let stats = emptyStats();
  let seq = 0;
  let startedAt = clock.now();

  const nextId = (prefix: string): string => {
    const n = (counters.get(prefix) ?? 0) + 1;
    counters.set(prefix, n);
    return `${prefix}_${String(n).padStart(6, "0")}`;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path.startsWith("/_sim/")) return control(req, res, path);
    stats.requests++;
    const n = seq++;
    const op = OPERATIONS.find((o) => `/${o.service}/${o.name}` === path);
    if (!op || req.method !== "POST") {
      stats.rejected++;
      return sendJson(res, 404, { error: `no operation ${req.method ?? ""} ${path}` });
    }
    let raw: unknown;
    try {
      raw = await readJson(req);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      stats.rejected++;
      return sendJson(res, 400, { error: err.message });
    }
    const parsed = op.args.safeParse(raw);
    if (!parsed.success) {
      stats.rejected++;
      const issue = parsed.error.issues[0];
      return sendJson(res, 400, {
        error: `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`,
      });
    }

    const faults = config.services[op.service as keyof typeof config.services] ?? config.faults;
    const rng = rngFor(config.seed, "tool", n);
    const u = rng.next();
    try {
      await clock.sleep(sampleLatency(config.latency, rng), clientGone(res));
    } catch {
      return;
    }
    if (u < faults.errorRate) {
      stats.injectedErrors++;
      return sendJson(res, 503, { error: "service temporarily unavailable (simulated)" });
    }

    const header = req.headers["idempotency-key"];
    const key =
      op.honoursIdempotencyKey && typeof header === "string" && header !== "" ? header : undefined;
    const storeId = key === undefined ? undefined : `${op.service}.${op.name}\u0000${key}`;
    const args = canonicalJson(parsed.data);
    const previous = storeId === undefined ? undefined : stored.get(storeId);
    if (previous) {
      if (previous.args !== args) {
        stats.rejected++;
        return sendJson(res, 422, {
          error: `Idempotency-Key ${key ?? ""} was used with different arguments`,
        });
      }
      stats.replayed++;
      return sendJson(res, previous.status, previous.body, { "idempotent-replayed": "true" });
    }

    const { status, body } = perform(
      op,
      parsed.data,
      typeof header === "string" ? header : undefined,
    );
    if (storeId !== undefined && status < 500) stored.set(storeId, { args, status, body });
    if (status >= 400) stats.rejected++;
    if (
      status < 400 &&
      op.effect === "write" &&
      u < faults.errorRate + faults.lostAfterCommitRate
    ) {
      stats.lostAfterCommit++;
      return dropConnection(req, res);
    }
    sendJson(res, status, body);
  }

  function perform(
    op: Operation<unknown>,
    args: unknown,
    idempotencyKey: string | undefined,
  ): { status: number; body: unknown } {
    const atMs = clock.now() - startedAt;
    const causes: Omit<SimEffect, "seq" | "causedBy">[] = [];
    const ctx: OperationContext = {
      world,
      nextId,
      sideEffect: (service, operation, a, result) =>
        causes.push({ service, operation, args: a, result, atMs }),
    };
    try {
      const result = op.perform(args, ctx);
      if (op.effect === "write") {
        stats.performed++;
        const main = ledger.record({
          service: op.service,
          operation: op.name,
          args,
          result,
          atMs,
          ...(idempotencyKey !== undefined && { idempotencyKey }),
        });
        for (const c of causes) ledger.record({ ...c, causedBy: main.seq });
      }
      return { status: 200, body: result };
    } catch (err) {
      if (err instanceof OperationError)
        return { status: err.status, body: { error: err.message } };
      throw err;
    }
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const routes: Record<string, () => unknown> = {
      "GET /_sim/effects": () => ledger.all(),
      "GET /_sim/duplicates": () => ledger.duplicates(),
      "GET /_sim/stats": () => ({ ...stats }),
      "GET /_sim/catalog": catalog,
      "POST /_sim/reset": () => {
        resetAll();
        return { ok: true };
      },
    };
    const route = routes[`${req.method ?? ""} ${path}`];
    await readJson(req).catch(() => undefined);
    if (!route) return sendJson(res, 404, { error: `no route ${req.method ?? ""} ${path}` });
    sendJson(res, 200, route());
  }

  function resetAll(): void {
    ledger.clear();
    world = emptyWorld();
    stored = new Map();
    counters = new Map();
    stats = emptyStats();
    seq = 0;
    startedAt = clock.now();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) =>
      sendJson(res, 500, { error: `simulator bug: ${String(err)}` }),
    );
  });
  const port = await listen(server, config.host, config.port);
  return {
    url: `http://${config.host}:${port}`,
    port,
    effects: () => ledger.all(),
    duplicates: () => ledger.duplicates(),
    stats: () => ({ ...stats }),
    catalog,
    reset: resetAll,
    close: () => shutDown(server),
  };
}

function catalog(): CatalogEntry[] {
  return OPERATIONS.map((o) => ({
    operation: `${o.service}.${o.name}`,
    effect: o.effect,
    honoursIdempotencyKey: o.honoursIdempotencyKey,
    ...(o.inverse !== undefined && { inverse: o.inverse }),
    ...(o.inverseSideEffect !== undefined && { inverseSideEffect: o.inverseSideEffect }),
  }));
}

function emptyStats(): SimToolsStats {
  return {
    requests: 0,
    performed: 0,
    replayed: 0,
    injectedErrors: 0,
    lostAfterCommit: 0,
    rejected: 0,
  };
}
