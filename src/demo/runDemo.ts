import { InvalidArgumentError } from "../core/errors.js";
import { newToken } from "../core/ids.js";
import type { Json } from "../core/json.js";
import { createOpenAIProvider } from "../providers/openai.js";
import type { LlmProvider } from "../providers/types.js";
import { Flotilla } from "../runtime/Flotilla.js";
import { startSimProvider, startSimTools, type SimProvider } from "../sim/index.js";
import { defineSupportDesk, type Ticket } from "./supportDesk.js";

export interface DemoOptions {
  /** Tickets, one run each. */
  agents: number;
  store: string;
  provider: "sim" | "openai";
  seed: number;
  onProgress?: (done: number, total: number, label: string) => void;
  /** Each phase as it begins (starting services, opening the store, starting runs, …). */
  onPhase?: (text: string) => void;
}

export interface DemoReport {
  store: string;
  provider: string;
  runs: number;
  completed: number;
  parked: number;
  failed: number;
  /** Why runs were parked or failed, by error code. */
  parkedBecause: Record<string, number>;
  failedBecause: Record<string, number>;
  parkedRuns: string[];
  sideEffects: number;
  duplicateEffects: number;
  /** Requests the provider received (simulated provider only). */
  providerRequests: number | null;
  /** Faults the simulated world injected and the fleet rode out. */
  faults: {
    rateLimited: number;
    serverErrors: number;
    outageRejections: number;
    lostResponses: number;
    toolErrors: number;
    toolLostAfterCommit: number;
  } | null;
  logicalLlmCalls: number;
  /** Logical calls that ended with no answer (refused, or given up), some without reaching the provider. */
  unansweredLlmCalls: number;
  tokens: { input: number; output: number };
  costUsd: number;
  wallSeconds: number;
  exampleRun: string | null;
}

const TEXTS = [
  "My parcel never arrived and tracking has not moved for a week.",
  "I was charged twice for the same order, please refund one.",
  "How do I change the delivery address on an open order?",
  "The blender I received is broken. I want my money back.",
  "Can I get an invoice with my company's VAT number?",
  "Your app logs me out every few minutes.",
];

function tickets(n: number, session: string): Ticket[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `T-${session}-${i + 1}`,
    customer: `cus-${session}-${i + 1}`,
    email: `customer${i + 1}.${session}@example.com`,
    text: TEXTS[i % TEXTS.length] ?? "",
  }));
}

/** The setup a real desk already has: the charges that refund tickets point at. */
async function createCharges(toolsUrl: string, list: Ticket[]): Promise<void> {
  for (const [i, t] of list.entries()) {
    if (i % 3 !== 1) continue;
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${toolsUrl}/payments/charge`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": `setup:${t.id}` },
        body: JSON.stringify({ customer: t.customer, amountCents: 1999 + i }),
      }).catch(() => undefined);
      if (res?.ok) {
        t.chargeId = ((await res.json()) as { chargeId: string }).chargeId;
        break;
      }
      if (attempt > 20)
        throw new Error("the simulated payments service did not accept the demo's setup charges");
    }
  }
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/**
 * The README's main job: a support-desk fleet on the embedded store against
 * the simulated provider and tools, with rate limits, ~2% tool errors, lost
 * responses and a short provider outage, and a report of what happened.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  if (!Number.isInteger(options.agents) || options.agents < 1 || options.agents > 10_000) {
    throw new InvalidArgumentError(
      `--agents must be an integer from 1 to 10000, received ${options.agents}`,
    );
  }
  const started = Date.now();
  let sim: SimProvider | undefined;
  let provider: LlmProvider;
  let model: string;
  if (options.provider === "openai") {
    const apiKey = process.env.OPENAI_API_KEY;
    if (!apiKey)
      throw new InvalidArgumentError("--provider openai needs OPENAI_API_KEY in the environment");
    model = "gpt-4o-mini";
    provider = createOpenAIProvider({ apiKey, model });
  } else {
    model = "gpt-4o-mini";
    options.onPhase?.("starting the simulated provider and tool services");
    sim = await startSimProvider({
      seed: options.seed,
      latency: { medianMs: 400, p99Ms: 2_500 },
      limits: { rpm: 90, tpm: 120_000 },
      faults: { errorRate: 0.01, lostResponseRate: 0.01 },
      outages: [[5_000, 8_000]],
    });
    provider = createOpenAIProvider({ baseURL: sim.openaiBaseURL, apiKey: "demo-key", model });
  }
  let tools: Awaited<ReturnType<typeof startSimTools>> | undefined;
  let flotilla: Flotilla;
  try {
    tools = await startSimTools({
      seed: options.seed,
      faults: { errorRate: 0.02, lostAfterCommitRate: 0.01 },
    });
    options.onPhase?.(`opening the store ${options.store}`);
    flotilla = await Flotilla.open({
      store: options.store,
      providers: { default: provider },
      worker: { concurrency: 24, pollMs: 20 },
      stopGraceMs: 1_000,
    });
  } catch (err) {
    // A store that cannot be opened must not leave the simulated services holding the process.
    await tools?.close();
    await sim?.close();
    throw err;
  }
  try {
    const agent = defineSupportDesk(flotilla, tools.url, model);
    const list = tickets(options.agents, newToken().slice(0, 6));
    await createCharges(tools.url, list);
    const setupEffects = tools.effects().length;
    options.onPhase?.(`starting ${list.length} runs, one per ticket`);
    const handles = await Promise.all(
      list.map((t) => flotilla.start(agent, t, { idempotencyKey: `demo:${t.id}` })),
    );
    let settled = 0;
    options.onPhase?.(
      options.provider === "sim"
        ? "running them through rate limits, tool errors, lost responses and a 3 s provider outage"
        : "running them",
    );
    options.onProgress?.(0, handles.length, "tickets");
    await Promise.all(
      handles.map((h) =>
        h.result().then(
          () => options.onProgress?.(++settled, handles.length, "tickets"),
          () => options.onProgress?.(++settled, handles.length, "tickets"),
        ),
      ),
    );
    const report: DemoReport = {
      store: flotilla.store.location,
      provider:
        options.provider === "sim" ? "simulated (OpenAI wire format, official SDK)" : "openai",
      runs: handles.length,
      completed: 0,
      parked: 0,
      failed: 0,
      parkedBecause: {},
      failedBecause: {},
      parkedRuns: [],
      sideEffects: tools.effects().length - setupEffects,
      duplicateEffects: tools.duplicates().length,
      providerRequests: sim ? sim.stats().requests : null,
      faults: sim
        ? {
            rateLimited: sim.stats().rateLimited,
            serverErrors: sim.stats().serverErrors,
            outageRejections: sim.stats().outageRejections,
            lostResponses: sim.stats().lostResponses,
            toolErrors: tools.stats().injectedErrors,
            toolLostAfterCommit: tools.stats().lostAfterCommit,
          }
        : null,
      logicalLlmCalls: 0,
      unansweredLlmCalls: 0,
      tokens: { input: 0, output: 0 },
      costUsd: 0,
      wallSeconds: 0,
      exampleRun: handles[0]?.id ?? null,
    };
    for (const h of handles) {
      const run = await h.status();
      if (run.status === "completed") report.completed++;
      else if (run.status === "parked") {
        report.parked++;
        report.parkedRuns.push(run.id);
        count(report.parkedBecause, run.error?.code ?? "unknown");
      } else {
        report.failed++;
        count(report.failedBecause, run.error?.code ?? run.status);
      }
      for (const e of await flotilla.store.readJournal(run.id)) {
        const d = e.data as Record<string, Json> | null;
        if (d?.kind !== "llm" || (e.type !== "step.completed" && e.type !== "step.failed"))
          continue;
        report.logicalLlmCalls++;
        if (e.type === "step.failed") report.unansweredLlmCalls++;
        const response = d.response as
          { usage?: { inputTokens: number; outputTokens: number }; costUsd?: number } | undefined;
        report.tokens.input += response?.usage?.inputTokens ?? 0;
        report.tokens.output += response?.usage?.outputTokens ?? 0;
        report.costUsd += response?.costUsd ?? 0;
      }
    }
    report.costUsd = Math.round(report.costUsd * 1e6) / 1e6;
    report.wallSeconds = Math.round((Date.now() - started) / 100) / 10;
    return report;
  } finally {
    await flotilla.close();
    await tools.close();
    await sim?.close();
  }
}
