import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openFleet } from "../../src/fleet/open.js";
import type { Admission } from "../../src/fleet/types.js";
import { createOpenAIProvider } from "../../src/providers/openai.js";
import type { LlmProvider } from "../../src/providers/types.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import type { SimProvider } from "../../src/sim/index.js";
import { percentile } from "./measure.js";
import type { CallLog, FleetSide } from "./sides.js";
import { MODEL, prompt, tenantOf, type Scenario } from "./workload.js";

/** Waits as the scheduler reported them. */
function recordingWaits(inner: Admission, waits: number[]): Admission {
  return {
    acquire: async (request, signal) => {
      const permit = await inner.acquire(request, signal);
      waits.push(permit.waitedMs);
      return permit;
    },
  };
}

/** Logs every answered call. */
function recordingProvider(inner: LlmProvider, log: CallLog): LlmProvider {
  return {
    name: inner.name,
    complete: async (request, options) => {
      const r = await inner.complete(request, options);
      log.answered(request.messages[0]?.content ?? "", r.usage.inputTokens, r.usage.outputTokens);
      return r;
    },
  };
}

/**
 * The same agents as durable Flotilla runs: `ctx.llm` through the SDK (its
 * retries off, Flotilla's own on) under the fleet scheduler, `threads` runs
 * at a time. Every option is at its default but the key's limits, which a
 * user configures from the provider's published tier.
 */
export async function flotillaSide(
  sim: SimProvider,
  s: Scenario,
  apiKey: string,
  threads: number,
  log: CallLog,
): Promise<FleetSide> {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-fleet-"));
  const fleet = await openFleet({ dependencies: { [`sim:${MODEL}`]: { rpm: s.rpm, tpm: s.tpm } } });
  const waits: number[] = [];
  const flotilla = await Flotilla.open({
    store: join(dir, "fleet.db"),
    providers: {
      default: recordingProvider(
        createOpenAIProvider({ name: "sim", baseURL: sim.openaiBaseURL, apiKey }),
        log,
      ),
    },
    admission: recordingWaits(fleet, waits),
    worker: { concurrency: threads },
  });
  const agent = flotilla.agent(
    "fleet.bench",
    async (ctx, input: { thread: number; task: number; calls: number }) => {
      for (let call = 0; call < input.calls; call++)
        await ctx.llm({
          model: MODEL,
          messages: [
            { role: "user", content: prompt(input.thread, input.task, call, s.promptChars) },
          ],
          maxTokens: s.maxTokens,
        });
    },
  );
  return {
    name: "flotilla",
    runTask: async (thread, task, calls, signal) => {
      const run = await flotilla.start(
        agent,
        { thread, task, calls },
        { tenant: tenantOf(thread) },
      );
      const stop = (): void =>
        void run.cancel("the measurement window closed").catch(() => undefined);
      signal.addEventListener("abort", stop, { once: true });
      try {
        await run.result();
      } finally {
        signal.removeEventListener("abort", stop);
      }
    },
    figures: () => ({
      p99QueueWaitMs: Math.round(percentile(waits, 0.99)),
      limiter: fleet.snapshot().dependencies[0] ?? null,
    }),
    close: async () => {
      await flotilla.close();
      await fleet.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
