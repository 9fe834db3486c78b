import type { LlmProvider, LlmRequest, LlmResponse } from "../../src/providers/types.js";

/** An in-process provider whose answers are random, so replay bugs show up as changed text. */
export class FakeProvider implements LlmProvider {
  readonly name = "fake";
  calls = 0;

  constructor(
    private readonly reply: (req: LlmRequest, n: number) => string = () =>
      `answer ${Math.random()}`,
  ) {}

  complete(request: LlmRequest, { signal }: { signal: AbortSignal }): Promise<LlmResponse> {
    signal.throwIfAborted();
    this.calls++;
    const content = this.reply(request, this.calls);
    return Promise.resolve({
      message: { role: "assistant", content },
      usage: { inputTokens: request.messages.length * 10, outputTokens: 5 },
      model: request.model,
      finishReason: "stop",
    });
  }
}
