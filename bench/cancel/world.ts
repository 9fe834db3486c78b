import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Tool, ToolCallContext } from "../../src/effects/Tool.js";
import { connectMcpTools, type McpTools } from "../../src/providers/mcp.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import { startSimTools, type SimTools } from "../../src/sim/tools/server.js";
import type { TicketEvent } from "./mcpServer.js";
import type { ToolProbe } from "./probe.js";

export const TOOL_KINDS = ["charge", "email", "event", "post", "ticket"] as const;
export type ToolKind = (typeof TOOL_KINDS)[number];

/** Median work of each tool, for sizing cancel times (the ticket's is set per call). */
export const MEDIAN_MS: Record<ToolKind, number> = {
  charge: 700,
  email: 700,
  event: 5,
  post: 5,
  ticket: 750,
};

/** An effect the outside world performed, by the idempotency key its caller sent. */
export interface WorldEffect {
  key: string;
  service: string;
  /** Wall-clock ms (the simulated services' clock offset is at most a few ms early). */
  at: number;
}

const here = fileURLToPath(import.meta.url);
const mcpScript = join(here, "..", `mcpServer${here.endsWith(".ts") ? ".ts" : ".js"}`);
const root = join(here, "..", "..", "..");

/**
 * The world the agents act on: slow services (payments, email; 300–1500 ms)
 * and fast ones (calendar, chat; ~5 ms) on the simulated tool server, and a
 * ticket tool on an MCP server over stdio. Each keeps its own ledger.
 */
export class World {
  private constructor(
    private readonly slow: SimTools,
    private readonly fast: SimTools,
    private readonly started: { slow: number; fast: number },
    private readonly mcp: McpTools,
    private readonly ticketLedger: string,
  ) {}

  static async start(dir: string, seed: number): Promise<World> {
    const slowAt = Date.now();
    const slow = await startSimTools({ seed, latency: { medianMs: 700, p99Ms: 1500 } });
    const fastAt = Date.now();
    const fast = await startSimTools({ seed: seed + 1, latency: { medianMs: 5, p99Ms: 40 } });
    const ticketLedger = join(dir, `tickets-${seed}.jsonl`);
    try {
      const mcp = await connectMcpTools({
        server: {
          command: process.execPath,
          args: [...process.execArgv, mcpScript, ticketLedger],
          cwd: root,
        },
        trusted: true,
        name: "tickets",
      });
      return new World(slow, fast, { slow: slowAt, fast: fastAt }, mcp, ticketLedger);
    } catch (err) {
      await Promise.all([slow.close(), fast.close()]);
      throw err;
    }
  }

  /** Defines the five tools on `flotilla`, each watched by `probe`. */
  defineTools(flotilla: Flotilla, probe: ToolProbe): Record<ToolKind, ToolRef> {
    const http = (name: ToolKind, server: SimTools, path: string, idempotent: boolean) =>
      flotilla.tool<Record<string, unknown>, unknown>(`bench.${name}`, {
        effect: idempotent ? "idempotent" : "irreversible",
        run: probe.wrap(`bench.${name}`, (args: Record<string, unknown>, ctx) =>
          post(server.url, path, args, ctx),
        ),
      });
    const ticket = this.mcp.tools.file_ticket;
    if (!ticket) throw new Error("the ticket MCP server lists no file_ticket tool");
    return {
      charge: http("charge", this.slow, "payments/charge", true),
      email: http("email", this.slow, "email/send", false),
      event: http("event", this.fast, "calendar/createEvent", true),
      post: http("post", this.fast, "chat/post", false),
      ticket: flotilla.tool<Record<string, unknown>, unknown>("bench.ticket", {
        effect: ticket.effect,
        run: probe.wrap("bench.ticket", (args: Record<string, unknown>, ctx) =>
          ticket.run(args, ctx),
        ),
      }),
    };
  }

  /** Every effect performed so far, from the services' own ledgers. */
  effects(): WorldEffect[] {
    const sim = (server: SimTools, startedAt: number) =>
      server.effects().flatMap((e) =>
        e.idempotencyKey === undefined || e.causedBy !== undefined
          ? []
          : [
              {
                key: e.idempotencyKey,
                service: `${e.service}.${e.operation}`,
                at: startedAt + e.atMs,
              },
            ],
      );
    const tickets = this.tickets()
      .filter((e) => e.event === "performed")
      .map((e) => ({ key: e.key, service: "mcp.file_ticket", at: e.at }));
    return [...sim(this.slow, this.started.slow), ...sim(this.fast, this.started.fast), ...tickets];
  }

  /** When the MCP server saw each request cancelled, by idempotency key. */
  ticketCancels(): Map<string, number> {
    return new Map(this.tickets().flatMap((e) => (e.event === "cancelled" ? [[e.key, e.at]] : [])));
  }

  private tickets(): TicketEvent[] {
    if (!existsSync(this.ticketLedger)) return [];
    return readFileSync(this.ticketLedger, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as TicketEvent);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.mcp.close(), this.slow.close(), this.fast.close()]);
  }
}

export type ToolRef = Tool<Record<string, unknown>, unknown>;

/** A tool's call: the idempotency key goes as a header, and the run's stop aborts the request. */
async function post(
  url: string,
  path: string,
  args: Record<string, unknown>,
  ctx: ToolCallContext,
): Promise<unknown> {
  const res = await fetch(`${url}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": ctx.idempotencyKey },
    body: JSON.stringify(args),
    signal: ctx.signal,
  });
  const body: unknown = await res.json();
  if (!res.ok)
    throw Object.assign(new Error(`${path} answered ${res.status}`), { status: res.status });
  return body;
}
