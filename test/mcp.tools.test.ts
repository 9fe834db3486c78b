import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isFlotillaError } from "../src/core/errors.js";
import { ProviderError } from "../src/providers/errors.js";
import { connectMcpTools, type McpTools } from "../src/providers/mcp.js";
import { buildMcpServer } from "./fixtures/mcp-server.js";

const fixture = fileURLToPath(new URL("./fixtures/mcp-server.ts", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const stdio = { command: process.execPath, args: ["--import", "tsx", fixture], cwd: root };
const ctx = (
  signal = new AbortController().signal,
): { idempotencyKey: string; signal: AbortSignal } => ({
  idempotencyKey: "run-1:step-3",
  signal,
});

interface Seen {
  calls: number;
  started: number;
  cancelled: number;
  lastIdempotencyKey: string;
}

async function seen(mcp: McpTools): Promise<Seen> {
  const stats = mcp.tools.stats;
  assert.ok(stats);
  return (await stats.run({}, ctx())).structuredContent as unknown as Seen;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail("the condition never held");
}

void describe("MCP tools over stdio", () => {
  let trusted: McpTools;
  before(async () => {
    trusted = await connectMcpTools({ server: stdio, trusted: true, name: "fixture" });
  });
  after(async () => {
    await trusted.close();
  });

  void it("maps a trusted server's annotations onto effect contracts", () => {
    const effects = Object.fromEntries(
      Object.entries(trusted.tools).map(([name, t]) => [name, t.effect]),
    );
    assert.deepEqual(effects, {
      lookup: "read",
      set_status: "idempotent",
      append_note: "irreversible",
      wipe: "irreversible",
      broken: "read",
      slow: "irreversible",
      stats: "read",
    });
    assert.equal(trusted.tools.append_note?.contract.additive, true);
    assert.equal(trusted.tools.wipe?.contract.additive, false);
    assert.equal(trusted.tools.wipe?.contract.destructive, true);
    assert.equal(trusted.tools.lookup?.description, "Reads an order");
  });

  void it("calls a tool, passing the idempotency key in _meta", async () => {
    const result = await trusted.tools.lookup?.run({ id: "A-7" }, ctx());
    assert.deepEqual(result?.structuredContent, { id: "A-7", status: "shipped" });
    assert.equal((await seen(trusted)).lastIdempotencyKey, "run-1:step-3");
  });

  void it("turns a tool's isError result into a typed error", async () => {
    await assert.rejects(
      trusted.tools.broken?.run({}, ctx()) ?? Promise.resolve(),
      (err: unknown) =>
        err instanceof ProviderError &&
        err.kind === "tool_error" &&
        /database is down/.test(err.message),
    );
  });

  void it("cancels the in-flight request on the server when the signal aborts", async () => {
    const controller = new AbortController();
    const call = trusted.tools.slow?.run({}, ctx(controller.signal));
    await until(async () => (await seen(trusted)).started === 1);
    controller.abort(new Error("run cancelled"));
    await assert.rejects(
      call ?? Promise.resolve(),
      (err: unknown) => err instanceof ProviderError && err.kind === "aborted",
    );
    await until(async () => (await seen(trusted)).cancelled === 1);
  });

  void it("gives an untrusted server's tools the spec's worst case, whatever they claim", async () => {
    const untrusted = await connectMcpTools({ server: stdio, trusted: false, prefix: "crm" });
    try {
      for (const [name, tool] of Object.entries(untrusted.tools)) {
        assert.ok(name.startsWith("crm."));
        assert.equal(tool.effect, "irreversible", name);
        assert.deepEqual(
          { ...tool.contract },
          {
            trusted: false,
            readOnly: false,
            idempotent: false,
            destructive: true,
            additive: false,
            openWorld: true,
          },
        );
      }
    } finally {
      await untrusted.close();
    }
  });

  void it("rejects options without an explicit trust decision", async () => {
    await assert.rejects(
      connectMcpTools({ server: stdio } as never),
      (err: unknown) =>
        isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") && /trusted/.test(err.message),
    );
  });
});

void describe("MCP tools over Streamable HTTP", () => {
  let http: Server;
  let url: string;
  before(async () => {
    // Stateless mode: a fresh server and transport per request, as the SDK recommends.
    http = createServer((req, res) => {
      const server = buildMcpServer();
      const transport = new StreamableHTTPServerTransport({});
      res.on("close", () => {
        void transport.close();
        void server.close();
      });
      server
        .connect(transport)
        .then(() => transport.handleRequest(req, res))
        .catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });
  after(async () => {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });

  void it("lists and calls tools", async () => {
    const mcp = await connectMcpTools({ server: { url }, trusted: true });
    try {
      assert.equal(mcp.tools.set_status?.effect, "idempotent");
      const result = await mcp.tools.set_status?.run({ id: "A-1", status: "closed" }, ctx());
      assert.deepEqual(result?.content, [{ type: "text", text: "A-1 → closed" }]);
    } finally {
      await mcp.close();
    }
  });

  void it("reports an unreachable server as a connection error", async () => {
    await assert.rejects(
      connectMcpTools({ server: { url: "http://127.0.0.1:9/mcp" }, trusted: true }),
      (err: unknown) => err instanceof ProviderError && err.kind === "connection",
    );
  });
});
