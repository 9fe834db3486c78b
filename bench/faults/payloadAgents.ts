import { setTimeout as delay } from "node:timers/promises";
import { MAX_PAYLOAD_BYTES } from "../../src/core/payload.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";
import { serviceTools, type CrashAgentOptions } from "../crash/agents.js";

/** Values no journal can hold, each the way a real tool or model might produce it. */
export const BAD_PAYLOADS = ["nul", "huge", "bigint", "cycle"] as const;
export type BadPayload = (typeof BAD_PAYLOADS)[number];

/** Where a run puts its bad value: its return value, a read tool's result, an effect's result. */
export const BAD_PLACES = ["return", "read", "effect"] as const;
export type BadPlace = (typeof BAD_PLACES)[number];

export interface PayloadInput {
  n: number;
  bad?: BadPayload;
  where?: BadPlace;
}

export function badValue(kind: BadPayload): unknown {
  switch (kind) {
    case "nul":
      return { text: "scraped page\u0000with a NUL inside" };
    case "huge":
      return { text: "x".repeat(MAX_PAYLOAD_BYTES + 1024) };
    case "bigint":
      return { amount: 10n ** 20n };
    case "cycle": {
      const node: Record<string, unknown> = { name: "loop" };
      node.self = node;
      return node;
    }
  }
}

/**
 * An agent that reads, acts through the recording service and returns; told
 * to, it produces a value the store must refuse at one of those places.
 */
export function setupPayloadAgents(
  flotilla: Flotilla,
  serviceUrl: string,
  options: CrashAgentOptions = {},
): void {
  const { perform } = serviceTools(serviceUrl, options);
  const performEffect = perform("payload.effect", true);
  const read = flotilla.tool("payload.read", {
    effect: "read",
    run: async (args: { n: number; bad?: BadPayload }) => {
      await delay(1 + (args.n % 5));
      return args.bad ? badValue(args.bad) : { n: args.n, page: `page ${args.n}` };
    },
  });
  const effect = flotilla.tool("payload.effect", {
    effect: "idempotent",
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    run: async (args: { unit: string; bad?: BadPayload }, ctx) => {
      const done = await performEffect(args, ctx);
      return args.bad ? badValue(args.bad) : done;
    },
  });
  flotilla.agent("faults.payload", async (ctx, input: PayloadInput) => {
    const badAt = (place: BadPlace) =>
      input.where === place && input.bad ? { bad: input.bad } : {};
    const page = await ctx.call(read, { n: input.n, ...badAt("read") });
    const receipt = await ctx.call(effect, { unit: `${input.n}:effect`, ...badAt("effect") });
    if (input.where === "return" && input.bad) return badValue(input.bad);
    return { n: input.n, page, receipt };
  });
}
