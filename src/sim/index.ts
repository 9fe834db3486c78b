/**
 * The simulated world: an LLM provider and a set of tool services on
 * loopback HTTP, deterministic from a seed, for tests, benchmarks, the demo
 * and for rehearsing failure (`flotilla sim …`).
 */
export { startSimProvider } from "./provider/server.js";
export type { SimProvider, SimProviderHooks } from "./provider/server.js";
export {
  SimProviderOptionsSchema,
  SimLimitsSchema,
  SimFaultsSchema,
  SimRuleSchema,
} from "./provider/options.js";
export type { SimProviderOptions, SimLimits, SimRule } from "./provider/options.js";
export type { SimChatRequest } from "./provider/chatRequest.js";
export type { SimReply, SimAnswer, SimErrorReply, SimResponder } from "./provider/responder.js";
export type { SimProviderStats, SimCounters } from "./provider/stats.js";
export { startSimTools } from "./tools/server.js";
export type { SimTools, SimToolsStats, CatalogEntry } from "./tools/server.js";
export { SimToolsOptionsSchema, SimToolFaultsSchema } from "./tools/options.js";
export type { SimToolsOptions } from "./tools/options.js";
export type { SimEffect, SimDuplicate } from "./tools/ledger.js";
export { createRng, rngFor, type Rng } from "../core/rng.js";
export { TokenBucket } from "./tokenBucket.js";
