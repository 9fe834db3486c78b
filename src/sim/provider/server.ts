import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { canonicalJson, sha256 } from "../../core/json.js";
import { systemClock, type Clock } from "../../core/clock.js";
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
import { anthropicWire } from "./anthropicWire.js";
import {
  fromAnthropic,
  fromOpenAI,
  inputTokensOf,
  promptTokens,
  type SimChatRequest,
} from "./chatRequest.js";
import { drawFault, inOutage } from "./faults.js";
import { KeyLimits } from "./keyLimits.js";
import { openAIWire } from "./openaiWire.js";
import { SimProviderOptionsSchema, type SimProviderOptions } from "./options.js";
import { defaultReply, isErrorReply, settle, type SimResponder } from "./responder.js";
import { SimStats, type SimProviderStats } from "./stats.js";
import type { Wire, WireError } from "./wire.js";
import { writeEvents } from "./wire.js";

/** What cannot travel in a config file: a clock for tests, a scripting hook. */
export interface SimProviderHooks {
  clock?: Clock;
  respond?: SimResponder;
}

export interface SimProvider {
  /** e.g. "http://127.0.0.1:41234". */
  url: string;
  port: number;
  /** Base URL for the `openai` SDK (`${url}/v1`). */
  openaiBaseURL: string;
  /** Base URL for `@anthropic-ai/sdk` (the SDK adds `/v1/messages`). */
  anthropicBaseURL: string;
  stats(): SimProviderStats;
  /** Clears counters, limits, the prompt cache and the outage clock; same seed, same story again. */
  reset(): void;
  /** Forces an outage on or off, on top of the scripted windows. */
  setOutage(on: boolean): void;
  close(): Promise<void>;
}

/**
 * Starts the simulated LLM provider on loopback HTTP. It speaks OpenAI's
 * chat completions (`POST /v1/chat/completions`) and Anthropic's Messages
 * (`POST /v1/messages`) well enough for the official SDKs, enforces per-key
 * limits with real rate-limit headers, and injects the faults it is told to.
 * Control endpoints for other processes: `GET /_sim/stats`,
 * `POST /_sim/reset`, `POST /_sim/outage` with `{"on": true|false}`.
 *
 * Every random decision for the nth request it receives derives from the
 * seed and n, and every default answer from the seed and the request, so a
 * run with the same seed and the same arrival order is the same run.
 */
export async function startSimProvider(
  options: SimProviderOptions = {},
  hooks: SimProviderHooks = {},
): Promise<SimProvider> {
  const config = parseOptions(SimProviderOptionsSchema, options, "sim provider options");
  const clock = hooks.clock ?? systemClock;
  const stats = new SimStats();
  let keys = new Map<string, KeyLimits>();
  let cache = new Set<string>();
  let seq = 0;
  let startedAt = clock.now();
  let forcedOutage = false;

  const limitsFor = (key: string): KeyLimits => {
    let limits = keys.get(key);
    if (!limits) {
      limits = new KeyLimits(config.keys[key] ?? config.limits, clock.now());
      keys.set(key, limits);
    }
    return limits;
  };

  /** Prompt caching: a prefix seen before, long enough, is billed as cached. */
  const cachedTokens = (req: SimChatRequest): number => {
    const prefix = req.messages.slice(0, -1);
    const tokens = promptTokens(prefix);
    if (tokens < config.cacheMinTokens) return 0;
    const id = sha256(canonicalJson([req.model, prefix])).toString("hex");
    const hit = cache.has(id);
    cache.add(id);
    // Also remember the whole prompt: the next turn's prefix is this prompt.
    cache.add(sha256(canonicalJson([req.model, req.messages])).toString("hex"));
    return hit ? tokens : 0;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path.startsWith("/_sim/")) return control(req, res, path);
    const wire = path.endsWith("/chat/completions")
      ? openAIWire
      : path === "/v1/messages"
        ? anthropicWire
        : undefined;
    const apiKey = keyOf(req, wire);
    const n = seq++;
    stats.add(apiKey, "requests");
    const requestId = `req_sim${config.seed}x${n}`;
    const now = clock.now();
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      stats.status(apiKey, status);
      sendJson(res, status, body, headers);
    };
    const fail = (w: Wire, e: WireError, headers: Record<string, string> = {}): void =>
      reply(e.status, w.error(e, requestId), headers);

    if (req.method !== "POST" || !wire) {
      return reply(404, {
        error: { message: `no route ${req.method ?? ""} ${path}`, type: "not_found" },
      });
    }
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      return fail(wire, { status: 400, message: err.message });
    }
    const record =
      typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const chat =
      wire === openAIWire ? fromOpenAI(record, apiKey, n) : fromAnthropic(record, apiKey, n);
    if (chat.model === "" || chat.messages.length === 0) {
      return fail(wire, {
        status: 400,
        message: "`model` and a non-empty `messages` are required",
      });
    }

    const limits = limitsFor(apiKey);
    if (forcedOutage || inOutage(config.outages, now - startedAt)) {
      stats.add(apiKey, "outageRejections");
      return fail(wire, {
        status: config.outageStatus,
        message: "the service is unavailable (simulated outage)",
      });
    }
    const inputTokens = inputTokensOf(chat);
    // Without max_tokens, the longest default answer is what may come.
    const admission = limits.admit(inputTokens, chat.maxTokens ?? config.output.maxTokens, now);
    if (!admission.ok) {
      stats.add(apiKey, "rateLimited");
      return fail(
        wire,
        {
          status: 429,
          code: "rate_limit_exceeded",
          message: `rate limit reached for ${admission.limit} on this key; retry after ${admission.retryAfterMs} ms`,
        },
        {
          ...wire.headers(limits.snapshot(now), requestId, now),
          "retry-after": String(Math.ceil(admission.retryAfterMs / 1000)),
          "retry-after-ms": String(admission.retryAfterMs),
        },
      );
    }

    // Whatever ends the request before its answer exists gives its reservation back.
    try {
      const gone = clientGone(res);
      const fault = drawFault(config.faults, rngFor(config.seed, "fault", n));
      if (fault.kind === "error") {
        stats.add(apiKey, "serverErrors");
        return fail(wire, { status: fault.status, message: "the server had an error (simulated)" });
      }
      if (fault.kind === "reset") {
        stats.add(apiKey, "resets");
        return dropConnection(req, res);
      }
      if (fault.kind === "timeout") {
        stats.add(apiKey, "timeouts");
        await clock.sleep(config.faults.hangMs, gone).catch(() => undefined);
        return dropConnection(req, res);
      }

      try {
        await clock.sleep(sampleLatency(config.latency, rngFor(config.seed, "latency", n)), gone);
      } catch {
        stats.add(apiKey, "clientAborts");
        return;
      }
      const answer =
        hooks.respond?.(chat) ?? defaultReply(chat, config.rules, config.seed, config.output);
      if (isErrorReply(answer)) {
        const e = answer.error;
        return fail(wire, { ...e, message: e.message ?? `scripted error ${e.status}` });
      }
      const completion = settle(answer, chat, wire === openAIWire ? "call_sim" : "toolu_sim");
      const cached = cachedTokens(chat);
      // The work is done: it is billed whether or not the answer arrives.
      admission.settle(completion.outputTokens, clock.now());
      stats.add(apiKey, "inputTokens", inputTokens);
      stats.add(apiKey, "outputTokens", completion.outputTokens);
      stats.add(apiKey, "cachedInputTokens", cached);
      if (fault.kind === "lost") {
        stats.add(apiKey, "lostResponses");
        return dropConnection(req, res);
      }

      const doneAt = clock.now();
      const meta = {
        id: wire === openAIWire ? `chatcmpl-sim${n}` : `msg_sim${n}`,
        requestId,
        model: chat.model,
        now: doneAt,
        inputTokens,
        cachedInputTokens: cached,
      };
      const headers = wire.headers(limits.snapshot(doneAt), requestId, doneAt);
      if (!chat.stream) {
        stats.add(apiKey, "completed");
        return reply(200, wire.body(completion, meta), headers);
      }
      stats.status(apiKey, 200);
      const pause = (): Promise<void> => clock.sleep(config.streamChunkDelayMs, gone);
      const delivered = await writeEvents(
        res,
        headers,
        wire.events(completion, meta, chat.streamUsage),
        pause,
      );
      stats.add(apiKey, delivered ? "completed" : "clientAborts");
    } finally {
      admission.settle(0, clock.now());
    }
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === "/_sim/stats" && req.method === "GET") return sendJson(res, 200, stats.snapshot());
    if (path === "/_sim/reset" && req.method === "POST") {
      resetAll();
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/_sim/outage" && req.method === "POST") {
      const body = await readJson(req).catch(() => undefined);
      const on = (body as { on?: unknown } | undefined)?.on;
      if (typeof on !== "boolean")
        return sendJson(res, 400, { error: 'body must be {"on": true|false}' });
      forcedOutage = on;
      return sendJson(res, 200, { ok: true, outage: on });
    }
    return sendJson(res, 404, { error: `no route ${req.method ?? ""} ${path}` });
  }

  function resetAll(): void {
    stats.clear();
    keys = new Map();
    cache = new Set();
    seq = 0;
    startedAt = clock.now();
    forcedOutage = false;
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      sendJson(res, 500, {
        error: { message: `simulator bug: ${String(err)}`, type: "server_error" },
      });
    });
  });
  const port = await listen(server, config.host, config.port);
  const url = `http://${config.host}:${port}`;
  return {
    url,
    port,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    stats: () => stats.snapshot(),
    reset: resetAll,
    setOutage: (on) => {
      forcedOutage = on;
    },
    close: () => shutDown(server),
  };
}

/** The API key identifies the caller for limits and stats; "anonymous" without one. */
function keyOf(req: IncomingMessage, wire: Wire | undefined): string {
  const auth = req.headers.authorization;
  const bearer = typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
  const xKey = req.headers["x-api-key"];
  const key =
    wire === anthropicWire ? (typeof xKey === "string" ? xKey : bearer) : (bearer ?? xKey);
  return typeof key === "string" && key !== "" ? key : "anonymous";
}
