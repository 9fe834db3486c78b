/**
 * A stdio MCP server for the cancel benchmark: `node mcpServer.js <ledger.jsonl>`.
 * Its one tool, `file_ticket`, works for `ms` milliseconds and then files a
 * ticket (its effect), unless the client cancels the request first
 * (`notifications/cancelled`). Every start, cancellation and effect is
 * appended to the ledger with its wall-clock time and the caller's
 * idempotency key: the benchmark's ground truth for this tool.
 */
import { appendFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

export interface TicketEvent {
  event: "started" | "cancelled" | "performed";
  key: string;
  at: number;
}

const ledger = process.argv[2];
if (!ledger) {
  process.stderr.write("usage: mcpServer <ledger.jsonl>\n");
  process.exit(2);
}
const record = (e: TicketEvent) => appendFileSync(ledger, `${JSON.stringify(e)}\n`);

const server = new McpServer({ name: "flotilla-bench-tickets", version: "1.0.0" });
server.registerTool(
  "file_ticket",
  {
    description: "Files a support ticket after working for `ms` milliseconds",
    inputSchema: { title: z.string(), ms: z.number().int().min(0) },
    annotations: { destructiveHint: false },
  },
  ({ title, ms }, extra) => {
    const meta = extra._meta?.["flotilla/idempotencyKey"];
    const key = typeof meta === "string" ? meta : "";
    record({ event: "started", key, at: Date.now() });
    return new Promise((resolve) => {
      // One thread: either the timer acts or the cancellation clears it, never both.
      const timer = setTimeout(() => {
        extra.signal.removeEventListener("abort", onAbort);
        record({ event: "performed", key, at: Date.now() });
        resolve({ content: [{ type: "text", text: `filed ${title}` }] });
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        record({ event: "cancelled", key, at: Date.now() });
        resolve({ content: [{ type: "text", text: "cancelled" }], isError: true });
      };
      if (extra.signal.aborted) onAbort();
      else extra.signal.addEventListener("abort", onAbort, { once: true });
    });
  },
);
await server.connect(new StdioServerTransport());
