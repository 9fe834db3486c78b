import type { Rng } from "../../src/core/rng.js";
import type { Agent } from "../../src/runtime/Agent.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import type { RunContext } from "../../src/runtime/RunContext.js";
import { MEDIAN_MS, TOOL_KINDS, type ToolKind, type ToolRef } from "./world.js";

/** One tool call of a plan; `ms` is how long the ticket tool works. */
export interface Call {
  tool: ToolKind;
  ms: number;
}

/** A step of a root run: a tool call, a child run of calls, or both at once under ctx.all. */
export type Step =
  | { kind: "tool"; call: Call }
  | { kind: "child"; calls: Call[] }
  | { kind: "parallel"; call: Call; calls: Call[] };

export interface Plan {
  n: number;
  steps: Step[];
}

export type Tools = Record<ToolKind, ToolRef>;

function drawCall(rng: Rng): Call {
  const tool = rng.pick(TOOL_KINDS);
  return { tool, ms: tool === "ticket" ? rng.int(300, 1200) : 0 };
}

const calls = (rng: Rng, min: number, max: number) =>
  Array.from({ length: rng.int(min, max) }, () => drawCall(rng));

/** Three to six steps: mostly tool calls, a child now and then, sometimes a child beside a call. */
export function drawPlan(rng: Rng, n: number): Plan {
  const steps = Array.from({ length: rng.int(3, 6) }, (): Step => {
    const u = rng.next();
    if (u < 0.65) return { kind: "tool", call: drawCall(rng) };
    if (u < 0.85) return { kind: "child", calls: calls(rng, 2, 4) };
    return { kind: "parallel", call: drawCall(rng), calls: calls(rng, 1, 3) };
  });
  return { n, steps };
}

const callMs = (c: Call) => (c.tool === "ticket" ? c.ms : MEDIAN_MS[c.tool]);
const sum = (xs: Call[]) => xs.reduce((s, c) => s + callMs(c), 0);

/** How long the plan takes when every call takes its median time. */
export function typicalMs(plan: Plan): number {
  return plan.steps.reduce(
    (total, s) =>
      total +
      (s.kind === "tool"
        ? callMs(s.call)
        : s.kind === "child"
          ? sum(s.calls)
          : Math.max(callMs(s.call), sum(s.calls))),
    0,
  );
}

/** Arguments unique to the run and call, so no two calls share a unit of work. */
function argsOf(c: Call, label: string): Record<string, unknown> {
  switch (c.tool) {
    case "charge":
      return { customer: `cust-${label}`, amountCents: 1250 };
    case "email":
      return { to: `user-${label}@example.com`, subject: `update ${label}` };
    case "event":
      return { title: `sync ${label}`, start: "2030-01-01T10:00:00Z" };
    case "post":
      return { channel: "ops", text: `status ${label}` };
    case "ticket":
      return { title: `ticket ${label}`, ms: c.ms };
  }
}

/** The root agent and the child it spawns. Loop detectors are off: the plans are not loops. */
export function defineAgents(flotilla: Flotilla, tools: Tools): Agent<Plan, number> {
  const call = (ctx: RunContext, c: Call, label: string) =>
    ctx.call(tools[c.tool], argsOf(c, label));
  const child = flotilla.agent(
    "cancel.child",
    async (ctx, input: { label: string; calls: Call[] }) => {
      for (const [i, c] of input.calls.entries()) await call(ctx, c, `${input.label}.${i}`);
      return input.calls.length;
    },
    { loops: false },
  );
  return flotilla.agent(
    "cancel.root",
    async (ctx, plan: Plan) => {
      for (const [i, s] of plan.steps.entries()) {
        const label = `${plan.n}.${i}`;
        if (s.kind === "tool") await call(ctx, s.call, label);
        else if (s.kind === "child") await ctx.spawn(child, { label, calls: s.calls });
        else
          await ctx.all([
            call(ctx, s.call, label),
            ctx.spawn(child, { label: `${label}c`, calls: s.calls }),
          ]);
      }
      return plan.steps.length;
    },
    { loops: false },
  );
}
