import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createAnthropicProvider } from "../src/providers/anthropic.js";
import { ProviderError } from "../src/providers/errors.js";
import { startSimProvider, type SimProvider } from "../src/sim/index.js";

const signal = (): AbortSignal => new AbortController().signal;

const lookupTool = {
  name: "lookup_order",
  parameters: {
    type: "object",
    properties: { orderId: { type: "string" } },
    required: ["orderId"],
  },
};

void describe("Anthropic provider against the simulator", () => {
  let sim: SimProvider;
  before(async () => {
    sim = await startSimProvider({
      seed: 5,
      limits: { rpm: 100, inputTpm: 50_000, outputTpm: 10_000 },
      keys: { tight: { rpm: 1 } },
      rules: [{ match: "order", tool: "lookup_order", arguments: { orderId: "A-1" } }],
      streamChunkDelayMs: 5,
      cacheMinTokens: 20,
    });
  });
  after(async () => {
    await sim.close();
  });

  for (const stream of [false, true]) {
    void it(`answers with usage, cost, request id and input/output limits (stream: ${stream})`, async () => {
      const provider = createAnthropicProvider({
        apiKey: `k-${stream}`,
        baseURL: sim.anthropicBaseURL,
        stream,
      });
      const deltas: string[] = [];
      const res = await provider.complete(
        {
          model: "claude-haiku-4-5",
          messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "hello" },
          ],
        },
        { signal: signal(), onDelta: (d) => deltas.push(d) },
      );
      assert.equal(provider.name, "anthropic");
      assert.equal(res.finishReason, "stop");
      assert.ok(res.usage.inputTokens > 0 && res.usage.outputTokens > 0);
      assert.equal(res.costUsd, (res.usage.inputTokens * 1 + res.usage.outputTokens * 5) / 1e6);
      assert.match(res.requestId ?? "", /^req_sim5x\d+$/);
      assert.equal(res.rateLimit?.limitRequests, 100);
      assert.equal(res.rateLimit?.limitInputTokens, 50_000);
      assert.equal(res.rateLimit?.limitOutputTokens, 10_000);
      assert.ok((res.rateLimit?.remainingOutputTokens ?? Infinity) < 10_000);
      assert.ok((res.rateLimit?.resetRequestsMs ?? -1) >= 0);
      if (stream) assert.equal(deltas.join(""), res.message.content);
    });
  }

  void it("sends tool results back in the shape the Messages API requires", async () => {
    for (const stream of [false, true]) {
      const provider = createAnthropicProvider({
        apiKey: "k-tools",
        baseURL: sim.anthropicBaseURL,
        stream,
      });
      const first = await provider.complete(
        {
          model: "claude-haiku-4-5",
          tools: [lookupTool],
          messages: [{ role: "user", content: "where is my order?" }],
        },
        { signal: signal() },
      );
      assert.equal(first.finishReason, "tool_calls");
      const call = first.message.toolCalls?.[0];
      assert.equal(call?.name, "lookup_order");
      assert.deepEqual(JSON.parse(call?.arguments ?? ""), { orderId: "A-1" });
      const second = await provider.complete(
        {
          model: "claude-haiku-4-5",
          tools: [lookupTool],
          messages: [
            { role: "user", content: "where is my order?" },
            first.message,
            { role: "tool", toolCallId: call?.id ?? "", content: "shipped" },
          ],
        },
        { signal: signal() },
      );
      assert.equal(second.finishReason, "stop");
    }
  });

  void it("reports cache reads as cached input tokens", async () => {
    const provider = createAnthropicProvider({ apiKey: "k-cache", baseURL: sim.anthropicBaseURL });
    const system = {
      role: "system" as const,
      content: "You are a careful support agent. ".repeat(10),
    };
    const first = await provider.complete(
      {
        model: "claude-haiku-4-5",
        messages: [system, { role: "user", content: "first question" }],
      },
      { signal: signal() },
    );
    const second = await provider.complete(
      {
        model: "claude-haiku-4-5",
        messages: [system, { role: "user", content: "second question" }],
      },
      { signal: signal() },
    );
    assert.equal(first.usage.cachedInputTokens, 0);
    assert.ok((second.usage.cachedInputTokens ?? 0) > 0);
    assert.ok((second.usage.cachedInputTokens ?? 0) < second.usage.inputTokens);
  });

  void it("turns a 429 into a rate_limited error with Anthropic's error type and retry-after", async () => {
    const provider = createAnthropicProvider({ apiKey: "tight", baseURL: sim.anthropicBaseURL });
    const req = { model: "claude-haiku-4-5", messages: [{ role: "user" as const, content: "hi" }] };
    await provider.complete(req, { signal: signal() });
    const err = await provider.complete(req, { signal: signal() }).then(
      () => assert.fail("expected a 429"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProviderError);
    assert.equal(err.kind, "rate_limited");
    assert.equal(err.status, 429);
    assert.equal(err.providerCode, "rate_limit_error");
    assert.match(err.requestId ?? "", /^req_sim5x\d+$/);
    assert.ok((err.retryAfterMs ?? 0) > 0);
  });

  void it("surfaces an abort before the answer as an abort", async () => {
    const slow = await startSimProvider({ latency: { medianMs: 5000, p99Ms: 5000 } });
    try {
      const provider = createAnthropicProvider({ apiKey: "k", baseURL: slow.anthropicBaseURL });
      const controller = new AbortController();
      const call = provider.complete(
        { model: "claude-haiku-4-5", messages: [{ role: "user", content: "hi" }] },
        { signal: controller.signal },
      );
      setTimeout(() => controller.abort(), 50);
      const err = await call.then(
        () => assert.fail("expected an abort"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ProviderError);
      assert.equal(err.kind, "aborted");
    } finally {
      await slow.close();
    }
  });
});
