import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { ProviderError, type ProviderErrorKind } from "./errors.js";
import { parseOptions } from "../core/validate.js";
import type { EffectKind } from "../effects/Tool.js";
import { activeTraceMeta } from "../telemetry/tracing/traceparent.js";

export const McpServerSchema = z.union([
  z.object({
    /** Started as a child process speaking MCP over stdio. */
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /** Default: the SDK's safe subset of the parent's environment (PATH, HOME, …). */
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
  }),
  z.object({
    /** A Streamable HTTP endpoint. */
    url: z.url(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
]);

export const McpToolsOptionsSchema = z.object({
  server: McpServerSchema,
  /**
   * Whether the server's tool annotations are believed. Required, because
   * the MCP spec says annotations from an untrusted server are hints that
   * must not drive safety decisions.
   */
  trusted: z.boolean(),
  /** Names the server in errors and metrics. Default "mcp". */
  name: z.string().min(1).default("mcp"),
  /** Prepended to tool names as `${prefix}.${tool}`. Default: none. */
  prefix: z.string().min(1).optional(),
  /** Per-call timeout. Default 60 000 ms. */
  timeoutMs: z.number().int().positive().default(60_000),
});
export type McpToolsOptions = z.input<typeof McpToolsOptionsSchema>;

/** The annotations as Flotilla applied them, so a caller can see why a tool got its effect. */
export interface McpToolContract {
  trusted: boolean;
  readOnly: boolean;
  idempotent: boolean;
  destructive: boolean;
  /** Only adds to the world (trusted `destructiveHint: false`); see `effectOf`. */
  additive: boolean;
  openWorld: boolean;
}

export interface McpToolContext {
  idempotencyKey: string;
  signal: AbortSignal;
}

/** A Flotilla tool spec for one MCP tool, ready for `flotilla.tool(name, spec)`. */
export interface McpToolSpec {
  effect: EffectKind;
  description?: string;
  /** JSON Schema of the arguments, as the server declared it. */
  inputSchema: Record<string, unknown>;
  contract: McpToolContract;
  /** Resolves to the call result (`content`, and `structuredContent` when the tool gives one). */
  run(args: Record<string, unknown>, ctx: McpToolContext): Promise<McpToolResult>;
}

export interface McpToolResult {
  content: unknown[];
  structuredContent?: Record<string, unknown>;
}

export interface McpTools {
  tools: Record<string, McpToolSpec>;
  close(): Promise<void>;
}

/** The `_meta` key carrying Flotilla's idempotency key to servers that want it. */
export const IDEMPOTENCY_META_KEY = "flotilla/idempotencyKey";

/**
 * Reads a tool's annotations into a contract. Untrusted servers get the MCP
 * spec's worst case whatever they claim: not read-only, destructive, not
 * idempotent, open world. Trusted servers get their hints, with the spec's
 * defaults for hints they leave out (which are the same worst case).
 */
export function contractOf(tool: Pick<Tool, "annotations">, trusted: boolean): McpToolContract {
  const a = trusted ? (tool.annotations ?? {}) : {};
  const readOnly = a.readOnlyHint ?? false;
  // The spec defines destructive and idempotent hints only for tools that write.
  const destructive = !readOnly && (a.destructiveHint ?? true);
  const idempotent = !readOnly && (a.idempotentHint ?? false);
  return {
    trusted,
    readOnly,
    idempotent,
    destructive,
    additive: !readOnly && !destructive,
    openWorld: a.openWorldHint ?? true,
  };
}

/**
 * Maps a contract onto Flotilla's effects. `readOnlyHint` → read;
 * `idempotentHint` → idempotent. Flotilla has no "additive" effect: a tool
 * that only adds (`destructiveHint: false`) still cannot be safely repeated
 * or undone, so it is irreversible, with `contract.additive` set for callers
 * that want to treat it more leniently. MCP has no notion of an inverse, so
 * nothing maps to compensable; wrap the spec with a `compensate` to get one.
 */
export function effectOf(contract: McpToolContract): EffectKind {
  if (contract.readOnly) return "read";
  if (contract.idempotent) return "idempotent";
  return "irreversible";
}

/**
 * Connects to an MCP server (stdio command or Streamable HTTP URL) with the
 * official SDK client, lists its tools, and wraps each as a Flotilla tool.
 * Aborting a call's signal cancels the request on the server
 * (`notifications/cancelled`). Each request carries the caller's trace
 * context in `_meta` (`traceparent`, `tracestate`) when a span is active. Call `close()` when done; for a stdio server
 * it stops the child process.
 */
export async function connectMcpTools(options: McpToolsOptions): Promise<McpTools> {
  const o = parseOptions(McpToolsOptionsSchema, options, "mcp options");
  const provider = `mcp:${o.name}`;
  const server = o.server;
  const transport =
    "command" in server
      ? new StdioClientTransport({
          command: server.command,
          args: server.args,
          stderr: "pipe",
          ...(server.env !== undefined && { env: server.env }),
          ...(server.cwd !== undefined && { cwd: server.cwd }),
        })
      : new StreamableHTTPClientTransport(new URL(server.url), {
          ...(server.headers !== undefined && { requestInit: { headers: server.headers } }),
        });
  const client = new Client({ name: "flotilla", version: "0.1.0" });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw toError(provider, err, undefined, "connect");
  }

  const listed: Tool[] = [];
  try {
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      listed.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw toError(provider, err, undefined, "tools/list");
  }

  const tools: Record<string, McpToolSpec> = {};
  for (const tool of listed) {
    const contract = contractOf(tool, o.trusted);
    tools[o.prefix === undefined ? tool.name : `${o.prefix}.${tool.name}`] = {
      effect: effectOf(contract),
      ...(tool.description !== undefined && { description: tool.description }),
      inputSchema: tool.inputSchema,
      contract,
      run: async (args, ctx) => {
        try {
          const result = await client.callTool(
            {
              name: tool.name,
              arguments: args,
              // The caller's trace (the execute_tool span) goes along, as MCP's semconv asks.
              _meta: { [IDEMPOTENCY_META_KEY]: ctx.idempotencyKey, ...activeTraceMeta() },
            },
            undefined,
            { signal: ctx.signal, timeout: o.timeoutMs },
          );
          if (result.isError === true) {
            throw new ProviderError(
              { provider, kind: "tool_error" },
              `tool '${tool.name}' failed: ${textOf(result.content)}`,
            );
          }
          const structured = result.structuredContent;
          return {
            content: Array.isArray(result.content) ? (result.content as unknown[]) : [],
            ...(typeof structured === "object" &&
              structured !== null && { structuredContent: structured as Record<string, unknown> }),
          };
        } catch (err) {
          throw toError(provider, err, ctx.signal, `tool '${tool.name}'`);
        }
      },
    };
  }
  return { tools, close: () => client.close() };
}

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return "no details";
  const text = content
    .map((c) =>
      typeof (c as { text?: unknown }).text === "string" ? (c as { text: string }).text : "",
    )
    .join(" ")
    .trim();
  return text === "" ? "no details" : text;
}

const KINDS: Partial<Record<number, ProviderErrorKind>> = {
  [ErrorCode.ConnectionClosed]: "connection",
  [ErrorCode.RequestTimeout]: "timeout",
  [ErrorCode.InvalidParams]: "bad_request",
  [ErrorCode.InvalidRequest]: "bad_request",
  [ErrorCode.MethodNotFound]: "not_found",
  [ErrorCode.InternalError]: "server",
};

function toError(
  provider: string,
  err: unknown,
  signal: AbortSignal | undefined,
  what: string,
): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal?.aborted) {
    return new ProviderError({ provider, kind: "aborted" }, `${what} was aborted`, {
      cause: signal.reason ?? err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof McpError) {
    return new ProviderError(
      { provider, kind: KINDS[err.code] ?? "unknown", providerCode: String(err.code) },
      `${what}: ${message}`,
      { cause: err },
    );
  }
  return new ProviderError({ provider, kind: "connection" }, `${what}: ${message}`, { cause: err });
}
