import { z } from "zod";
import { systemClock, type Clock } from "../core/clock.js";
import { messageOf } from "../core/errors.js";
import { parseOptions } from "../core/validate.js";
import { FallbackLimiter } from "./limiter/fallback.js";
import { LocalLimiter } from "./limiter/local.js";
import { PostgresLimiter } from "./limiter/postgres.js";
import { RedisLimiter } from "./limiter/redis.js";
import type { LimiterBackend } from "./limiter/types.js";
import type { FleetOptions } from "./options.js";
import { FleetScheduler } from "./scheduler.js";

const openSchema = z.object({
  limiter: z
    .string()
    .refine((s) => s === "memory" || /^(redis|rediss|postgres|postgresql):\/\//.test(s), {
      message: 'must be "memory", a redis:// URL or a postgres:// URL',
    })
    .default("memory"),
  fallbackShare: z.number().gt(0).max(1).optional(),
  fallbackRetryMs: z.number().int().positive().default(5000),
  publishEveryMs: z.number().int().nonnegative().default(2000),
});

export interface OpenFleetOptions extends FleetOptions {
  /**
   * Where limiter state lives: "memory" (this process only, the default), a
   * `redis://` URL or a `postgres://` URL (shared by every process using it).
   */
  limiter?: string;
  /**
   * This process's share of each limit while a shared limiter is unreachable.
   * Default: 1 / the number of processes last seen publishing to it (1 until
   * a publication has succeeded).
   */
  fallbackShare?: number;
  /** Redis key prefix, so several fleets can share one Redis. Default "flotilla:fleet:". */
  redisPrefix?: string;
  /** How often to try an unreachable shared limiter again. Default 5000 ms. */
  fallbackRetryMs?: number;
  /** How often to publish metrics for `flotilla fleet` (shared limiters only; 0: never). Default 2000 ms. */
  publishEveryMs?: number;
  clock?: Clock;
  /** Uniform in [0, 1); jitters wake-ups. Default Math.random. */
  random?: () => number;
  /** Names this process in published metrics. Default `pid:<pid>`. */
  reporter?: string;
  /** Told when the limiter degrades or recovers, or a background write fails. Default: process warnings. */
  warn?: (message: string, err: unknown) => void;
}

/**
 * Opens a fleet scheduler (the runtime's `Admission`) on its limiter backend.
 * Redis need not be up: until it answers, the scheduler limits on a local
 * share and says so. PostgreSQL must be reachable, since the limiter's
 * tables and functions are created here.
 */
export async function openFleet(options: OpenFleetOptions = {}): Promise<FleetScheduler> {
  const {
    limiter: limiterOption,
    fallbackShare: shareOption,
    fallbackRetryMs: retryOption,
    publishEveryMs: publishOption,
    redisPrefix,
    clock = systemClock,
    random,
    reporter,
    warn: warnOption,
    ...fleetOptions
  } = options;
  const { limiter, fallbackShare, fallbackRetryMs, publishEveryMs } = parseOptions(
    openSchema,
    {
      limiter: limiterOption,
      fallbackShare: shareOption,
      fallbackRetryMs: retryOption,
      publishEveryMs: publishOption,
    },
    "fleet options",
  );
  const warn =
    warnOption ??
    ((m: string, err: unknown) =>
      process.emitWarning(`flotilla fleet: ${m}${err === undefined ? "" : `: ${messageOf(err)}`}`));
  let peers = 1;
  let backend: LimiterBackend = new LocalLimiter(clock);
  if (limiter !== "memory") {
    const shared = limiter.startsWith("redis")
      ? await RedisLimiter.open(limiter, redisPrefix === undefined ? {} : { prefix: redisPrefix })
      : await PostgresLimiter.open(limiter);
    backend = new FallbackLimiter(shared, {
      clock,
      share: () => fallbackShare ?? 1 / peers,
      retryMs: fallbackRetryMs,
      onChange: (_degraded, reason) => warn(reason, undefined),
    });
  }
  return new FleetScheduler(fleetOptions, {
    backend,
    clock,
    warn,
    ...(random && { random }),
    ...(reporter !== undefined && { reporter }),
    ...(limiter !== "memory" && { publishEveryMs }),
    onPeers: (n) => {
      peers = n;
    },
  });
}
