import type { Flotilla } from "../../src/runtime/Flotilla.js";
import { serviceTools, type CrashAgentOptions } from "../crash/agents.js";

/** Two tools that name their unit of work with the same key: keys must be scoped by tool. */
export const ORDER_TOOLS = ["orders.reserve", "orders.bill"] as const;
/** Of those, the one whose service does not honour keys. */
export const ORDER_UNKEYED_TOOLS = ["orders.bill"] as const;

export interface OrderInput {
  id: number;
  /** Call both tools at once, so one's key is claimed while the other's is in flight. */
  together: boolean;
}

/** An order agent that reserves stock and bills, both under the key `order:<id>`. */
export function setupOrderAgents(
  flotilla: Flotilla,
  serviceUrl: string,
  options: CrashAgentOptions = {},
): void {
  const { perform, reconcile, timeout } = serviceTools(serviceUrl, options);
  const key = (a: { unit: string }) => a.unit;
  const reserve = flotilla.tool("orders.reserve", {
    effect: "idempotent",
    ...timeout,
    key,
    run: perform("orders.reserve", true),
  });
  const bill = flotilla.tool("orders.bill", {
    effect: "compensable",
    ...timeout,
    key,
    run: perform("orders.bill", false),
    compensate: async () => undefined,
    reconcile: reconcile("orders.bill"),
  });
  flotilla.agent("faults.order", async (ctx, input: OrderInput) => {
    const unit = { unit: `order:${input.id}` };
    if (input.together) return ctx.all([ctx.call(reserve, unit), ctx.call(bill, unit)]);
    return [await ctx.call(reserve, unit), await ctx.call(bill, unit)];
  });
}
