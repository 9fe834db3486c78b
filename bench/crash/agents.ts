import { setTimeout as delay } from "node:timers/promises";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import type { LlmProvider } from "../../src/providers/types.js";
import { REFUSED_LATE } from "./toolService.js";

/** Tools whose service honours idempotency keys: any repeat is a duplicate. */
export const KEYED_TOOLS = ["email.send", "crm.update", "ledger.post"] as const;
/** Tools that must never run twice for one unit of work without a decision. */
export const UNKEYED_TOOLS = ["payments.refund", "payments.charge", "sms.send"] as const;

interface Ticket {
  n: number;
  /** Fail deliberately at the end, after every effect (the agent's own failure). */
  fail?: boolean;
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

export interface CrashAgentOptions {
  /** Every tool's `timeoutMs`. Default: the runtime's (60 s). */
  timeoutMs?: number;
  /** How long the service waits before performing, and again after, in ms. Default 2–16. */
  serviceDelayMs?: { min: number; max: number };
}

/** Thrown by a ticket told to fail: the agent's own failure, not the runtime's. */
export const DELIBERATE_FAILURE = "BENCH_DELIBERATE_FAILURE";

type Perform = (
  args: { unit: string },
  ctx: { idempotencyKey: string; signal: AbortSignal; deadline?: number },
) => Promise<unknown>;
type Reconcile = (
  args: { unit: string },
  ctx: { signal: AbortSignal },
) => Promise<{ status: "done"; result: unknown } | { status: "not-done" }>;

/** Tool functions that act through the recording tool service at `serviceUrl`. */
export function serviceTools(
  serviceUrl: string,
  options: CrashAgentOptions = {},
): {
  perform: (tool: string, honoursKey: boolean) => Perform;
  reconcile: (tool: string) => Reconcile;
  /** The tool spec's `timeoutMs`, when the options set one. */
  timeout: { timeoutMs?: number };
} {
  const { min, max } = options.serviceDelayMs ?? { min: 2, max: 16 };
  const post = async (path: string, payload: object, signal: AbortSignal): Promise<unknown> => {
    const res = await fetch(`${serviceUrl}${path}`, {
      method: "POST",
      body: JSON.stringify(payload),
      signal,
    });
    if (res.status === REFUSED_LATE)
      // The service refused before acting: the effect certainly did not happen.
      throw Object.assign(new Error("tool service refused a request past its deadline"), {
        effectApplied: false,
        code: "BENCH_REFUSED_LATE",
      });
    if (!res.ok) throw new Error(`tool service answered ${res.status}`);
    return res.json();
  };
  return {
    timeout: options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
    perform:
      (tool, honoursKey) =>
      (args, { idempotencyKey, signal, deadline }) =>
        post(
          "/perform",
          {
            tool,
            unit: args.unit,
            key: idempotencyKey,
            honoursKey,
            delayMs: min + Math.floor(Math.random() * (max - min + 1)),
            caller: process.pid,
            ...(deadline === undefined ? {} : { deadline }),
          },
          signal,
        ),
    reconcile:
      (tool) =>
      async (args, { signal }) => {
        const r = (await post("/check", { tool, unit: args.unit }, signal)) as {
          done: boolean;
          result: unknown;
        };
        return r.done
          ? { status: "done" as const, result: r.result }
          : { status: "not-done" as const };
      },
  };
}

/** Defines the benchmark's agents and tools against a recording tool service. */
export function setupCrashAgents(
  flotilla: Flotilla,
  serviceUrl: string,
  options: CrashAgentOptions = {},
): void {
  const { perform, reconcile, timeout } = serviceTools(serviceUrl, options);

  const email = flotilla.tool("email.send", {
    effect: "idempotent",
    ...timeout,
    run: perform("email.send", true),
  });
  const crm = flotilla.tool("crm.update", {
    effect: "idempotent",
    ...timeout,
    key: (a: { unit: string }) => `crm:${a.unit}`,
    run: perform("crm.update", true),
  });
  const ledger = flotilla.tool("ledger.post", {
    effect: "compensable",
    ...timeout,
    key: (a: { unit: string }) => `ledger:${a.unit}`,
    run: perform("ledger.post", true),
    compensate: async () => undefined,
    reconcile: reconcile("ledger.post"),
  });
  const refund = flotilla.tool("payments.refund", {
    effect: "compensable",
    ...timeout,
    key: (a: { unit: string }) => `refund:${a.unit}`,
    run: perform("payments.refund", false),
    compensate: async () => undefined,
    reconcile: reconcile("payments.refund"),
  });
  const charge = flotilla.tool("payments.charge", {
    effect: "irreversible",
    ...timeout,
    run: perform("payments.charge", false),
  });
  const sms = flotilla.tool("sms.send", {
    effect: "irreversible",
    ...timeout,
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
    if (t.fail)
      throw Object.assign(new Error(`ticket ${t.n} was told to fail`), {
        code: DELIBERATE_FAILURE,
      });
    return { n: t.n, reply: reply.message.content };
  });
}
