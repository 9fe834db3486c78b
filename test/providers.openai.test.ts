import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
import { ProviderError, isProviderError } from "../src/providers/errors.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import type { LlmRequest } from "../src/providers/types.js";
import { startSimProvider, type SimProvider } from "../src/sim/index.js";

const signal = (): AbortSignal => new AbortController().signal;

const weatherTool = {
  name: "get_weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the call to fail");
}

void describe("OpenAI provider against the simulator", () => {
  let sim: SimProvider;
  before(async () => {
    sim = await startSimProvider(
      {
        seed: 3,
        limits: { rpm: 1000, tpm: 1_000_000 },
        keys: { tight: { rpm: 1 } },
        rules: [{ match: "weather", tool: "get_weather", arguments: { city: "Oslo" } }],
        streamChunkDelayMs: 5,
      },
      {
        respond: (req) => {
          const last = req.messages.at(-1)?.text ?? "";
          if (last.includes("huge prompt")) {
            return {
              error: {
                status: 400,
                code: "context_length_exceeded",
                message: "maximum context length is 8192 tokens",
              },
            };
          }
          return undefined;
        },
      },
    );
  });
  after(async () => {
    await sim.close();
  });

  const request = (content: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content }],
    ...extra,
  });

  void it("answers with usage, cost, the request id and the rate-limit state", async () => {
    const provider = createOpenAIProvider({ apiKey: "k-plain", baseURL: sim.openaiBaseURL });
    const res = await provider.complete(request("hello"), { signal: signal() });
    assert.equal(provider.name, "openai");
    assert.equal(res.message.role, "assistant");
    assert.ok(res.message.content && res.message.content.length > 0);
    assert.equal(res.finishReason, "stop");
    assert.ok(res.usage.inputTokens > 0 && res.usage.outputTokens > 0);
    const expectedCost = (res.usage.inputTokens * 0.15 + res.usage.outputTokens * 0.6) / 1e6;
    assert.ok(Math.abs((res.costUsd ?? -1) - expectedCost) < 1e-12);
    assert.match(res.requestId ?? "", /^req_sim3x\d+$/);
    assert.equal(res.rateLimit?.limitRequests, 1000);
    assert.equal(res.rateLimit?.remainingRequests, 999);
    assert.equal(res.rateLimit?.limitTokens, 1_000_000);
  });

  void it("returns tool calls, and a text answer once the tool result is sent back", async () => {
    const provider = createOpenAIProvider({ apiKey: "k-tools", baseURL: sim.openaiBaseURL });
    const first = await provider.complete(
      request("what is the weather in Oslo?", { tools: [weatherTool] }),
      {
        signal: signal(),
      },
    );
    assert.equal(first.finishReason, "tool_calls");
    const call = first.message.toolCalls?.[0];
    assert.equal(call?.name, "get_weather");
    assert.deepEqual(JSON.parse(call?.arguments ?? ""), { city: "Oslo" });

    const second = await provider.complete(
      {
        model: "gpt-4o-mini",
        tools: [weatherTool],
        messages: [
          { role: "user", content: "what is the weather in Oslo?" },
          first.message,
          { role: "tool", toolCallId: call?.id ?? "", content: "sunny" },
        ],
      },
      { signal: signal() },
    );
    assert.equal(second.finishReason, "stop");
    assert.equal(second.message.toolCalls, undefined);
  });

  void it("streams text deltas that add up to the answer, with usage", async () => {
    const provider = createOpenAIProvider({
      apiKey: "k-stream",
      baseURL: sim.openaiBaseURL,
      stream: true,
    });
    const deltas: string[] = [];
    const res = await provider.complete(request("tell me something"), {
      signal: signal(),
      onDelta: (d) => deltas.push(d),
    });
    assert.ok(deltas.length > 1);
    assert.equal(deltas.join(""), res.message.content);
    assert.ok(res.usage.outputTokens > 0);
    assert.equal(res.rateLimit?.limitRequests, 1000);
  });

  void it("streams tool calls", async () => {
    const provider = createOpenAIProvider({
      apiKey: "k-stream",
      baseURL: sim.openaiBaseURL,
      stream: true,
    });
    const res = await provider.complete(request("weather please", { tools: [weatherTool] }), {
      signal: signal(),
    });
    assert.equal(res.message.toolCalls?.[0]?.name, "get_weather");
    assert.deepEqual(JSON.parse(res.message.toolCalls?.[0]?.arguments ?? ""), { city: "Oslo" });
  });

  void it("returns JSON matching the schema when structured output is asked for", async () => {
    const provider = createOpenAIProvider({ apiKey: "k-json", baseURL: sim.openaiBaseURL });
    const schema = {
      type: "object",
      properties: {
        priority: { enum: ["low", "high"] },
        refund: { type: "boolean" },
        tags: { type: "array", items: { type: "string" } },
      },
      required: ["priority", "refund", "tags"],
      additionalProperties: false,
    };
    const res = await provider.complete(
      request("triage this", { responseFormat: { name: "triage", schema } }),
      {
        signal: signal(),
      },
    );
    const parsed = JSON.parse(res.message.content ?? "") as Record<string, unknown>;
    assert.ok(["low", "high"].includes(parsed.priority as string));
    assert.equal(typeof parsed.refund, "boolean");
    assert.ok(Array.isArray(parsed.tags));
  });

  void it("turns a 429 into a rate_limited error with status, code, request id and retry-after", async () => {
    const provider = createOpenAIProvider({ apiKey: "tight", baseURL: sim.openaiBaseURL });
    await provider.complete(request("one"), { signal: signal() });
    const err = await rejection(provider.complete(request("two"), { signal: signal() }));
    assert.equal(err.kind, "rate_limited");
    assert.equal(err.status, 429);
    assert.equal(err.providerCode, "rate_limit_exceeded");
    assert.match(err.requestId ?? "", /^req_sim3x\d+$/);
    assert.ok((err.retryAfterMs ?? 0) > 0);
    assert.equal(err.transient, true);
    assert.ok(isFlotillaError(err, "FLOTILLA_PROVIDER_ERROR"));
    assert.equal(
      (JSON.parse(JSON.stringify(err)) as { details: { kind: string } }).details.kind,
      "rate_limited",
    );
  });

  void it("classifies a context-length 400 as not transient", async () => {
    const provider = createOpenAIProvider({ apiKey: "k-ctx", baseURL: sim.openaiBaseURL });
    const err = await rejection(provider.complete(request("a huge prompt"), { signal: signal() }));
    assert.equal(err.kind, "context_length");
    assert.equal(err.status, 400);
    assert.equal(err.providerCode, "context_length_exceeded");
    assert.equal(err.transient, false);
  });

  void it("surfaces an abort mid-stream as an abort, and the server sees the client leave", async () => {
    const provider = createOpenAIProvider({
      apiKey: "k-abort",
      baseURL: sim.openaiBaseURL,
      stream: true,
    });
    const controller = new AbortController();
    const call = provider.complete(request("a long story"), {
      signal: controller.signal,
      onDelta: () => controller.abort(new Error("user pressed stop")),
    });
    const err = await rejection(call);
    assert.equal(err.kind, "aborted");
    assert.ok(isProviderError(err, "aborted"));
    for (let i = 0; i < 100 && (sim.stats().keys["k-abort"]?.clientAborts ?? 0) === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(sim.stats().keys["k-abort"]?.clientAborts, 1);
  });

  void it("rejects bad options with the field and the value received", () => {
    assert.throws(
      () => createOpenAIProvider({ baseURL: "not a url" }),
      (err: unknown) =>
        isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") &&
        /baseURL/.test(err.message) &&
        /not a url/.test(err.message),
    );
  });
});

void describe("OpenAI provider failures", () => {
  void it("reports a reset connection as a transient connection error", async () => {
    const sim = await startSimProvider({ faults: { resetRate: 1 } });
    try {
      const provider = createOpenAIProvider({ apiKey: "k", baseURL: sim.openaiBaseURL });
      const err = await rejection(
        provider.complete(
          { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
          { signal: signal() },
        ),
      );
      assert.equal(err.kind, "connection");
      assert.equal(err.transient, true);
      assert.equal(sim.stats().resets, 1, "the SDK must not retry on its own");
    } finally {
      await sim.close();
    }
  });

  void it("reports a hung request as a timeout", async () => {
    const sim = await startSimProvider({ faults: { timeoutRate: 1 } });
    try {
      const provider = createOpenAIProvider({
        apiKey: "k",
        baseURL: sim.openaiBaseURL,
        timeoutMs: 200,
      });
      const err = await rejection(
        provider.complete(
          { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
          { signal: signal() },
        ),
      );
      assert.equal(err.kind, "timeout");
      assert.equal(sim.stats().timeouts, 1);
    } finally {
      await sim.close();
    }
  });

  void it("reports an injected 5xx as a server error and does not retry it", async () => {
    const sim = await startSimProvider({ faults: { errorRate: 1, errorStatuses: [502] } });
    try {
      const provider = createOpenAIProvider({ apiKey: "k", baseURL: sim.openaiBaseURL });
      const err = await rejection(
        provider.complete(
          { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
          { signal: signal() },
        ),
      );
      assert.equal(err.kind, "server");
      assert.equal(err.status, 502);
      assert.equal(sim.stats().requests, 1);
    } finally {
      await sim.close();
    }
  });
});
