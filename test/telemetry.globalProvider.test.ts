import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Flotilla } from "../src/index.js";

/*
 * Tool spans are skipped while no SDK is registered; one registered globally
 * after the instance opened must still get them, as the API's proxy tracer
 * would give them.
 */
describe("telemetry with the global tracer provider", () => {
  after(() => trace.disable());

  it("counts tool calls with no SDK, and traces them once one is registered", async () => {
    const f = await Flotilla.open({ store: join(mkdtempSync(join(tmpdir(), "gtp-")), "f.db") });
    try {
      const lookup = f.tool("lookup", {
        effect: "read",
        run: (a: { i: number }) => Promise.resolve(a),
      });
      const agent = f.agent("reader", async (ctx, n: number) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += (await ctx.call(lookup, { i })).i;
        return sum;
      });
      assert.equal(await (await f.start(agent, 3)).result(), 3);
      assert.match(await f.metrics(), /flotilla_tool_calls_total\{tool="lookup",outcome="ok"\} 3/);

      const exporter = new InMemorySpanExporter();
      trace.setGlobalTracerProvider(
        new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
      );
      assert.equal(await (await f.start(agent, 2)).result(), 1);
      const tools = exporter.getFinishedSpans().filter((s) => s.name === "execute_tool lookup");
      assert.equal(tools.length, 2);
      const run = exporter.getFinishedSpans().find((s) => s.name === "invoke_agent reader");
      assert.ok(run);
      for (const s of tools) {
        assert.equal(s.parentSpanContext?.spanId, run.spanContext().spanId);
        assert.equal(s.attributes["flotilla.effect.state"], "ok");
      }
      assert.match(await f.metrics(), /flotilla_tool_calls_total\{tool="lookup",outcome="ok"\} 5/);
    } finally {
      await f.close();
    }
  });
});
