/**
 * Fleet scheduling: admission control for LLM and tool calls (GCRA rate
 * buckets shared through Redis or PostgreSQL, AIMD concurrency, weighted fair
 * queuing between tenants) and deadlock-free shared resources.
 */
export type { Admission, AdmissionRequest, AttemptOutcome, Permit } from "./types.js";
export { openFleet, type OpenFleetOptions } from "./open.js";
export { FleetScheduler, type FleetSnapshot, type FleetSchedulerHooks } from "./scheduler.js";
export {
  FleetOptionsSchema,
  DependencyLimitsSchema,
  type FleetOptions,
  type DependencyLimitsInput,
} from "./options.js";
export type { DependencySnapshot } from "./metrics.js";
export type { LimiterBackend } from "./limiter/types.js";
export { LocalLimiter } from "./limiter/local.js";
export { RedisLimiter } from "./limiter/redis.js";
export { PostgresLimiter } from "./limiter/postgres.js";
export { FallbackLimiter } from "./limiter/fallback.js";
export {
  SharedResources,
  type SharedResourcesOptions,
  type ResourceWant,
  type ResourceHold,
  type AcquireResourcesOptions,
} from "./resources.js";
export { ResourceTimeoutError, LockOrderError, type ResourceHolder } from "./errors.js";
