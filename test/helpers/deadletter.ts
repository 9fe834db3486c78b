import { Flotilla, type FlotillaOptions } from "../../src/index.js";
import { ProviderError, type ProviderErrorKind } from "../../src/providers/errors.js";
import type { LlmProvider, LlmRequest, LlmResponse } from "../../src/providers/types.js";
import { tempStore } from "./tempStore.js";

export { tempStore };

/** What the scripted provider does for one request: answer with text, or fail with a kind. */
export type Script = (req: LlmRequest, n: number) => string | { fail: ProviderErrorKind };

/** An in-process provider driven by a script, reporting usage and a fixed cost per call. */
export class ScriptedProvider implements LlmProvider {
  readonly name = "scripted";
  calls = 0;

  constructor(
    public script: Script = () => "ok",
    private readonly costPerCall = 0.001,
  ) {}

  complete(request: LlmRequest, { signal }: { signal: AbortSignal }): Promise<LlmResponse> {
    signal.throwIfAborted();
    this.calls++;
    const out = this.script(request, this.calls);
    if (typeof out !== "string") {
      const status = out.fail === "server" ? 503 : 400;
      return Promise.reject(
        new ProviderError({ provider: this.name, kind: out.fail, status }, `scripted ${out.fail}`),
      );
    }
    return Promise.resolve({
      message: { role: "assistant", content: out },
      usage: { inputTokens: 10, outputTokens: 5 },
      model: request.model,
      finishReason: "stop",
      costUsd: this.costPerCall,
    });
  }
}

export async function openFlotilla(
  provider: LlmProvider,
  options: Partial<FlotillaOptions> = {},
  store = tempStore(),
): Promise<Flotilla> {
  return Flotilla.open({
    store,
    providers: { default: provider },
    worker: { pollMs: 10, leaseMs: 2000 },
    stopGraceMs: 500,
    resilience: { defaults: { backoff: { baseMs: 1, maxMs: 2 } } },
    // Dead-letter tests need failures: a provider that keeps failing is given up on, not waited for.
    outageWaitMs: 0,
    ...options,
  });
}

/** Waits for a run to end, whatever way it ends. */
export async function settle(f: Flotilla, runId: string): Promise<unknown> {
  return f
    .handle(runId)
    .result({ timeoutMs: 10_000 })
    .then(
      (v) => v,
      (e: unknown) => e,
    );
}
