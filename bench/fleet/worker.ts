/**
 * One process of the shared-limiter benchmark: opens the fleet scheduler on
 * the shared backend and keeps `loops` callers busy against the simulated
 * provider for `durationMs`, then prints what it admitted as one JSON line.
 * Usage: worker.ts <json options>
 */
import { openFleet } from "../../src/fleet/open.js";
import { isProviderError, type ProviderError } from "../../src/providers/errors.js";
import { createOpenAIProvider } from "../../src/providers/openai.js";

interface WorkerArgs {
  limiter: string;
  redisPrefix: string;
  baseURL: string;
  dependency: string;
  model: string;
  rpm: number;
  tpm: number;
  loops: number;
  startAt: number;
  durationMs: number;
  prompt: string;
}

const args = JSON.parse(process.argv[2] ?? "{}") as WorkerArgs;
const fleet = await openFleet({
  limiter: args.limiter,
  redisPrefix: args.redisPrefix,
  publishEveryMs: 1000,
  reporter: `bench:${process.pid}`,
  dependencies: { [args.dependency]: { rpm: args.rpm, tpm: args.tpm } },
});
const provider = createOpenAIProvider({ name: "sim", baseURL: args.baseURL, apiKey: "shared" });
const admissions: { at: number; tokens: number }[] = [];
let status429 = 0;
let errors = 0;
const endAt = args.startAt + args.durationMs;
await new Promise((r) => setTimeout(r, Math.max(0, args.startAt - Date.now())));

async function loop(): Promise<void> {
  // One signal per caller, as each run has its own.
  const signal = new AbortController().signal;
  while (Date.now() < endAt) {
    const permit = await fleet.acquire(
      {
        dependency: args.dependency,
        tenant: "bench",
        estimate: { inputTokens: Math.ceil(args.prompt.length / 4), outputTokens: 64 },
      },
      signal,
    );
    const admission = { at: Date.now(), tokens: 0 };
    if (admission.at >= endAt) {
      permit.release({ outcome: "error" });
      return;
    }
    admissions.push(admission);
    try {
      const r = await provider.complete(
        { model: args.model, messages: [{ role: "user", content: args.prompt }], maxTokens: 64 },
        // A signal per call, as the runtime gives each attempt: the SDK attaches a listener to it.
        { signal: new AbortController().signal },
      );
      admission.tokens = r.usage.inputTokens + r.usage.outputTokens;
      permit.release({
        outcome: "ok",
        usage: r.usage,
        ...(r.rateLimit && { rateLimit: r.rateLimit }),
      });
    } catch (err) {
      const limited = isProviderError(err, "rate_limited");
      if (limited) status429++;
      else errors++;
      // What the refusal said about the key's buckets, retry-after included.
      const said = isProviderError(err) ? (err as ProviderError) : undefined;
      permit.release({
        outcome: limited ? "rate_limited" : "error",
        rateLimit: {
          ...said?.rateLimit,
          ...(said?.retryAfterMs !== undefined && { retryAfterMs: said.retryAfterMs }),
        },
      });
    }
  }
}

await Promise.all(Array.from({ length: args.loops }, loop));
const degraded = fleet.snapshot().degraded;
await fleet.close();
process.stdout.write(`${JSON.stringify({ admissions, status429, errors, degraded })}\n`);
