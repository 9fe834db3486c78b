import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import { z } from "zod";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { connectMcpTools, Flotilla, ProviderError, type McpTools } from "../src/index.js";
import { FakeProvider } from "./helpers/fakeProvider.js";

const skip = await postgresSkipReason();

/** An MCP server over Streamable HTTP whose `echo` tool keeps the `_meta` of each request. */
async function metaServer(): Promise<{
  url: string;
  metas: Record<string, unknown>[];
  close: () => Promise<void>;
}> {
  const metas: Record<string, unknown>[] = [];
  const http: Server = createServer((req, res) => {
    const server = new McpServer({ name: "meta", version: "1.0.0" });
    server.registerTool(
      "echo",
      { inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } },
      ({ text }, extra) => {
        metas.push({ ...extra._meta });
        return { content: [{ type: "text", text }] };
      },
    );
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
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    metas,
    close: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

async function until<T>(what: string, look: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = look();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Two Flotilla instances on one PostgreSQL database, each the only worker
 * for its agents: a parent on worker A spawns a child that worker B runs.
 * Spans go to one in-memory exporter, as they would to one collector.
 */
describe("OpenTelemetry GenAI spans across workers", { skip }, () => {
  const exporter = new InMemorySpanExporter();
  const tracing = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contexts = new AsyncLocalStorageContextManager();
  let db: { url: string; drop: () => Promise<void> };
  let mcp: Awaited<ReturnType<typeof metaServer>>;
  let mcpTools: McpTools;
  let a: Flotilla;
  let b: Flotilla;

  before(async () => {
    context.setGlobalContextManager(contexts.enable());
    db = await freshDatabase();
    mcp = await metaServer();
    mcpTools = await connectMcpTools({ server: { url: mcp.url }, trusted: true });
  });
  after(async () => {
    await mcpTools.close();
    await mcp.close();
    await db.drop();
    context.disable();
  });

  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

  it("names, attributes and parentage: caller → parent run → its calls → child run on another worker", async () => {
    const open = (workerId: string, inlineWaitMs: number) =>
      Flotilla.open({
        store: db.url,
        workerId,
        providers: { default: new FakeProvider() },
        tracerProvider: tracing,
        inlineWaitMs,
        worker: { pollMs: 20 },
      });
    // The parent suspends while its child runs, so it has two executions, hence two spans.
    a = await open("worker-a", 0);
    b = await open("worker-b", 5_000);
    try {
      const ledger = a.tool("ledger.write", {
        effect: "idempotent",
        description: "Writes a ledger line",
        key: (x: { id: number }) => `ledger:${x.id}`,
        run: (x: { id: number }) => Promise.resolve({ line: x.id }),
      });
      const echoSpec = mcpTools.tools.echo!;
      const echo = a.tool("mcp.echo", {
        effect: echoSpec.effect,
        run: (x: { text: string }, ctx) => echoSpec.run(x, ctx),
      });
      const lookup = b.tool("crm.lookup", {
        effect: "read",
        run: (x: { q: string }) => Promise.resolve({ found: x.q }),
      });
      const researcher = b.agent("researcher", async (ctx, q: string) => {
        const answer = await ctx.llm({
          model: "m-child",
          messages: [{ role: "user", content: q }],
        });
        await ctx.call(lookup, { q });
        return answer.message.content;
      });
      // Defined on B alone: worker A, which claims only its own agents, never runs it.
      const activeInAgent: string[] = [];
      const planner = a.agent("planner", async (ctx) => {
        activeInAgent.push(trace.getActiveSpan()?.spanContext().spanId ?? "none");
        await ctx.llm({
          model: "m-parent",
          messages: [{ role: "user", content: "plan" }],
          maxTokens: 50,
        });
        await ctx.call(ledger, { id: 7 });
        await ctx.call(ledger, { id: 7 }); // the same unit of work: deduped, not called
        await ctx.call(echo, { text: "hello" });
        return ctx.spawn(researcher, "refunds");
      });

      // B only runs runs (its worker starts with its first start(), or here).
      await b.worker({ pollMs: 20 });
      const caller = tracing.getTracer("test");
      const run = await caller.startActiveSpan("handle request", async (span) => {
        try {
          return await a.start(planner, null);
        } finally {
          span.end();
        }
      });
      await run.result({ timeoutMs: 20_000 });
      await until("the parent's second execution span", () =>
        named("invoke_agent planner").length === 2 ? true : undefined,
      );
      const child = (await a.store.listRuns({ parentId: run.id }))[0]!;

      const [request] = named("handle request");
      const [first, second] = named("invoke_agent planner").sort(
        (x, y) =>
          (x.attributes["flotilla.run.execution"] as number) -
          (y.attributes["flotilla.run.execution"] as number),
      );
      const [childRun] = named("invoke_agent researcher");
      assert.ok(request && first && second && childRun);
      const traceId = request.spanContext().traceId;

      // One trace, from the caller's span down to the child's calls on the other worker.
      for (const s of spans()) assert.equal(s.spanContext().traceId, traceId, s.name);
      assert.equal(parentOf(first), request.spanContext().spanId);
      assert.equal(parentOf(second), request.spanContext().spanId);
      assert.equal(parentOf(childRun), first.spanContext().spanId);
      assert.deepEqual(activeInAgent, [first.spanContext().spanId, second.spanContext().spanId]);

      for (const s of [first, second]) {
        assert.equal(s.kind, SpanKind.INTERNAL);
        assert.equal(s.attributes["gen_ai.operation.name"], "invoke_agent");
        assert.equal(s.attributes["gen_ai.agent.name"], "planner");
        assert.equal(s.attributes["gen_ai.conversation.id"], run.id);
        assert.equal(s.attributes["flotilla.run.id"], run.id);
        assert.equal(s.attributes["flotilla.worker.id"], "worker-a");
      }
      assert.equal(first.attributes["flotilla.run.execution"], 1);
      assert.equal(first.attributes["flotilla.run.outcome"], "suspended");
      assert.equal(second.attributes["flotilla.run.execution"], 2);
      assert.equal(second.attributes["flotilla.run.outcome"], "completed");
      assert.equal(childRun.attributes["gen_ai.conversation.id"], run.id);
      assert.equal(childRun.attributes["flotilla.run.id"], child.id);
      assert.equal(childRun.attributes["flotilla.run.parent_id"], run.id);
      assert.equal(childRun.attributes["flotilla.worker.id"], "worker-b");

      // The calls of the first execution; the second replayed them, so made no span.
      const [chat] = named("chat m-parent");
      assert.ok(chat);
      assert.equal(chat.kind, SpanKind.CLIENT);
      assert.equal(parentOf(chat), first.spanContext().spanId);
      assert.equal(chat.attributes["gen_ai.operation.name"], "chat");
      assert.equal(chat.attributes["gen_ai.provider.name"], "fake");
      assert.equal(chat.attributes["gen_ai.request.model"], "m-parent");
      assert.equal(chat.attributes["gen_ai.request.max_tokens"], 50);
      assert.equal(chat.attributes["gen_ai.response.model"], "m-parent");
      assert.deepEqual(chat.attributes["gen_ai.response.finish_reasons"], ["stop"]);
      assert.equal(chat.attributes["gen_ai.usage.input_tokens"], 10);
      assert.equal(chat.attributes["gen_ai.usage.output_tokens"], 5);
      assert.equal(chat.attributes["flotilla.attempts"], 1);
      assert.equal(chat.attributes["flotilla.breaker.state"], "closed");
      assert.equal(typeof chat.attributes["flotilla.retry_budget.remaining"], "number");
      assert.equal(chat.attributes["flotilla.provenance.source"], "primary");

      const tools = named("execute_tool ledger.write");
      assert.equal(tools.length, 2);
      for (const t of tools) {
        assert.equal(parentOf(t), first.spanContext().spanId);
        assert.equal(t.attributes["gen_ai.operation.name"], "execute_tool");
        assert.equal(t.attributes["gen_ai.tool.name"], "ledger.write");
        assert.equal(t.attributes["gen_ai.tool.description"], "Writes a ledger line");
        assert.equal(t.attributes["flotilla.effect"], "idempotent");
      }
      assert.deepEqual(
        tools.map((t) => [
          t.attributes["flotilla.effect.state"],
          t.attributes["flotilla.dedupe.hit"],
        ]),
        [
          ["committed", false],
          ["deduped", true],
        ],
      );
      assert.equal(tools[0]!.attributes["flotilla.attempts"], 1);

      // The MCP request carried the execute_tool span as its parent.
      const [echoSpan] = named("execute_tool mcp.echo");
      assert.ok(echoSpan);
      assert.equal(mcp.metas.length, 1);
      assert.equal(mcp.metas[0]!.traceparent, `00-${traceId}-${echoSpan.spanContext().spanId}-01`);
      assert.match(String(mcp.metas[0]!["flotilla/idempotencyKey"]), /:/);

      // The child's calls hang under the child's span, made by worker B.
      for (const name of ["chat m-child", "execute_tool crm.lookup"]) {
        const [s] = named(name);
        assert.ok(s, name);
        assert.equal(parentOf(s), childRun.spanContext().spanId, name);
        assert.equal(s.attributes["gen_ai.conversation.id"], run.id, name);
        assert.equal(s.attributes["flotilla.run.id"], child.id, name);
      }
      assert.equal(named("execute_tool crm.lookup")[0]!.attributes["flotilla.effect.state"], "ok");
      for (const s of spans()) assert.notEqual(s.status.code, SpanStatusCode.ERROR, s.name);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("ends spans with status error when a call or a run fails", async () => {
    exporter.reset();
    a = await Flotilla.open({
      store: db.url,
      workerId: "worker-c",
      providers: { default: new FakeProvider() },
      tracerProvider: tracing,
      worker: { pollMs: 20 },
    });
    try {
      const charge = a.tool("payments.charge", {
        effect: "idempotent",
        run: () =>
          Promise.reject(
            new ProviderError(
              { provider: "bank", kind: "auth", status: 401 },
              "the bank refused us",
            ),
          ),
      });
      const billing = a.agent("billing", async (ctx) => {
        await ctx.call(charge, { cents: 100 });
      });
      const run = await a.start(billing, null);
      await assert.rejects(run.result({ timeoutMs: 20_000 }));
      const [agentSpan] = await until("the run's span", () =>
        named("invoke_agent billing").length ? named("invoke_agent billing") : undefined,
      );
      const [tool] = named("execute_tool payments.charge");
      assert.ok(agentSpan && tool);
      assert.equal(parentOf(tool), agentSpan.spanContext().spanId);
      assert.equal(tool.status.code, SpanStatusCode.ERROR);
      assert.match(tool.status.message ?? "", /the bank refused us/);
      assert.equal(tool.attributes["error.type"], "FLOTILLA_PROVIDER_ERROR");
      assert.equal(tool.attributes["flotilla.effect.state"], "failed");
      assert.equal(agentSpan.status.code, SpanStatusCode.ERROR);
      assert.equal(agentSpan.attributes["flotilla.run.outcome"], "dead-lettered");
      assert.ok(agentSpan.events.some((e) => e.name === "exception"));
    } finally {
      await a.close();
    }
  });
});
