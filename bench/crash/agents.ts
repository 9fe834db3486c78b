import { setTimeout as delay } from "node:timers/promises";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import type { LlmProvider } from "../../src/providers/types.js";

/** Tools whose service honours idempotency keys: any repeat is a duplicate. */
export const KEYED_TOOLS = ["email.send", "crm.update", "ledger.post"] as const;
/** Tools that must never run twice for one unit of work without a decision. */
export const UNKEYED_TOOLS = ["payments.refund", "payments.charge", "sms.send"] as const;

interface Ticket {
  n: number;
}

/** A provider with random answers and latency, so replays that re-ask would show. */
export const randomProvider: LlmProvider = {
  name: "bench-random",
  async complete(request, { signal }) {
    await delay(1 + Math.floor(Math.random() * 8), undefined, { signal });
    return {
      message: { role: "assistant", content: `plan ${Math.random().toString(36).slice(2)}` },
      usage: { inputTokens: 20 * request.messages.length, outputTokens: 12 },
      model: request.model,
      finishReason: "stop",
    };
  },
};

/** Defines the benchmark's agents and tools against a recording tool service. */
export function setupCrashAgents(flotilla: Flotilla, serviceUrl: string): void {
  const post = async (path: string, payload: object, signal: AbortSignal): Promise<unknown> => {
    const res = await fetch(`${serviceUrl}${path}`, {
      method: "POST",
      body: JSON.stringify(payload),
      signal,
    });
    if (!res.ok) throw new Error(`tool service answered ${res.status}`);
    return res.json();
  };
  const perform =
    (tool: string, honoursKey: boolean) =>
    (
      args: { unit: string },
      { idempotencyKey, signal }: { idempotencyKey: string; signal: AbortSignal },
    ) =>
      post(
        "/perform",
        {
          tool,
          unit: args.unit,
          key: idempotencyKey,
          honoursKey,
          delayMs: 2 + Math.floor(Math.random() * 15),
        },
        signal,
      );
  const reconcile =
    (tool: string) =>
    async (args: { unit: string }, { signal }: { signal: AbortSignal }) => {
      const r = (await post("/check", { tool, unit: args.unit }, signal)) as {
        done: boolean;
        result: unknown;
      };
      return r.done
        ? { status: "done" as const, result: r.result }
        : { status: "not-done" as const };
    };

  const email = flotilla.tool("email.send", {
    effect: "idempotent",
    run: perform("email.send", true),
  });
  const crm = flotilla.tool("crm.update", {
    effect: "idempotent",
    key: (a: { unit: string }) => `crm:${a.unit}`,
    run: perform("crm.update", true),
  });
  const ledger = flotilla.tool("ledger.post", {
    effect: "compensable",
    key: (a: { unit: string }) => `ledger:${a.unit}`,
    run: perform("ledger.post", true),
    compensate: async () => undefined,
    reconcile: reconcile("ledger.post"),
  });
  const refund = flotilla.tool("payments.refund", {
    effect: "compensable",
    key: (a: { unit: string }) => `refund:${a.unit}`,
    run: perform("payments.refund", false),
    compensate: async () => undefined,
    reconcile: reconcile("payments.refund"),
  });
  const charge = flotilla.tool("payments.charge", {
    effect: "irreversible",
    run: perform("payments.charge", false),
  });
  const sms = flotilla.tool("sms.send", {
    effect: "irreversible",
    run: perform("sms.send", false),
  });

  const research = flotilla.agent("crash.research", async (ctx, input: { unit: string }) => {
    const a = await ctx.llm({
      model: "sim-small",
      messages: [{ role: "user", content: `research ${input.unit}` }],
    });
    await ctx.call(crm, { unit: `${input.unit}` });
    return a.message.content;
  });

  flotilla.agent("crash.ticket", async (ctx, t: Ticket) => {
    const u = (label: string) => ({ unit: `${t.n}:${label}` });
    const plan = await ctx.llm({
      model: "sim-small",
      messages: [{ role: "user", content: `ticket ${t.n}` }],
    });
    const r = await ctx.random();
    await ctx.call(email, u("ack"));
    if (r < 0.5) await ctx.call(refund, u("refund"));
    const [found] = await ctx.all([
      ctx.spawn(research, u("research")),
      ctx.call(ledger, u("ledger")),
    ]);
    await ctx.sleep(5);
    if (r < 0.25) await ctx.call(charge, u("charge"));
    else if (r < 0.5) await ctx.call(sms, u("sms"));
    const reply = await ctx.llm({
      model: "sim-small",
      messages: [
        { role: "user", content: `ticket ${t.n}` },
        plan.message,
        { role: "user", content: String(found) },
      ],
    });
    return { n: t.n, reply: reply.message.content };
  });
}
