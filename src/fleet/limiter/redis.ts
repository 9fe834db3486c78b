import { Redis } from "ioredis";
import type { Adjustment, Charge } from "../gcra.js";
import type { LimiterBackend } from "./types.js";

/** Keys live under this prefix unless told otherwise, so fleets can share one Redis. */
export const DEFAULT_REDIS_PREFIX = "flotilla:fleet:";
/** Idle bucket state expires; a TAT an hour old is in the past anyway. */
const STATE_TTL_MS = 3_600_000;

// The server's clock, not the callers': processes on different machines then
// agree on what "now" is. Numbers travel as strings because Redis truncates
// Lua numbers to integers on the way out.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000`;

/** KEYS[1] bucket hash; ARGV: count, then name, units, intervalMs, toleranceMs per charge. Mirrors gcraReserve. */
const RESERVE = `${NOW}
local n = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i = 0, n - 1 do
  local tat = tonumber(redis.call('HGET', KEYS[1], ARGV[2 + i * 4]) or '0')
  if tat < now then tat = now end
  local w = tat - now - tonumber(ARGV[5 + i * 4])
  if w > wait then wait = w end
  tats[i + 1] = tat + tonumber(ARGV[3 + i * 4]) * tonumber(ARGV[4 + i * 4])
end
if wait > 0 then return tostring(wait) end
for i = 0, n - 1 do
  redis.call('HSET', KEYS[1], ARGV[2 + i * 4], string.format('%.3f', tats[i + 1]))
end
redis.call('PEXPIRE', KEYS[1], ${STATE_TTL_MS})
return '0'`;

/** ARGV: count, then name, units, intervalMs, floorMs per adjustment. Mirrors gcraSettle. */
const SETTLE = `${NOW}
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local name = ARGV[2 + i * 4]
  local tat = tonumber(redis.call('HGET', KEYS[1], name) or tostring(now))
  tat = tat + tonumber(ARGV[3 + i * 4]) * tonumber(ARGV[4 + i * 4])
  local floor = tonumber(ARGV[5 + i * 4])
  if floor > 0 and now + floor > tat then tat = now + floor end
  redis.call('HSET', KEYS[1], name, string.format('%.3f', tat))
end
redis.call('PEXPIRE', KEYS[1], ${STATE_TTL_MS})
return 'ok'`;

/** KEYS[1] reporters hash; ARGV: reporter, snapshot JSON, ttlMs. Returns the live reporters. */
const PUBLISH = `${NOW}
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', now) .. ' ' .. ARGV[2])
local live = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local at = tonumber(string.match(all[i + 1], '^(%d+)'))
  if at and now - at <= tonumber(ARGV[3]) then live = live + 1
  elseif at and now - at > 10 * tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('PEXPIRE', KEYS[1], 10 * tonumber(ARGV[3]))
return live`;

interface FleetCommands {
  fleetReserve(key: string, ...args: (string | number)[]): Promise<string>;
  fleetSettle(key: string, ...args: (string | number)[]): Promise<string>;
  fleetPublish(key: string, ...args: (string | number)[]): Promise<number>;
}

/**
 * Limiter state in Redis: one Lua script per admission, so checking every
 * bucket and taking from all of them is atomic and one round trip. The client
 * does not queue commands while disconnected: a limiter that cannot reach
 * Redis must say so at once (and fall back), not hang its callers.
 */
export class RedisLimiter implements LimiterBackend {
  readonly kind = "redis";
  readonly degraded = false;

  private constructor(
    private readonly redis: Redis & FleetCommands,
    private readonly prefix: string,
  ) {}

  static async open(
    url: string,
    options: { timeoutMs?: number; prefix?: string } = {},
  ): Promise<RedisLimiter> {
    const timeoutMs = options.timeoutMs ?? 1000;
    const redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      // Keep trying in the background; the fallback answers meanwhile.
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    // ioredis emits connection errors as events; the failing commands carry them to us.
    redis.on("error", () => undefined);
    redis.defineCommand("fleetReserve", { numberOfKeys: 1, lua: RESERVE });
    redis.defineCommand("fleetSettle", { numberOfKeys: 1, lua: SETTLE });
    redis.defineCommand("fleetPublish", { numberOfKeys: 1, lua: PUBLISH });
    // An unreachable Redis is not an error here: the client keeps reconnecting
    // and every command fails fast meanwhile, which the fallback turns into a
    // local share. Opening must not be the one moment an outage is fatal.
    await redis.connect().catch(() => undefined);
    return new RedisLimiter(redis as Redis & FleetCommands, options.prefix ?? DEFAULT_REDIS_PREFIX);
  }

  async reserve(key: string, charges: readonly Charge[]): Promise<number> {
    const args = charges.flatMap((c) => [c.bucket, c.units, c.intervalMs, c.toleranceMs]);
    return Number(await this.redis.fleetReserve(this.prefix + key, charges.length, ...args));
  }

  async settle(key: string, adjustments: readonly Adjustment[]): Promise<void> {
    const args = adjustments.flatMap((a) => [a.bucket, a.units, a.intervalMs, a.floorMs]);
    await this.redis.fleetSettle(this.prefix + key, adjustments.length, ...args);
  }

  async publish(reporter: string, snapshot: unknown, ttlMs: number): Promise<number> {
    return Number(
      await this.redis.fleetPublish(
        `${this.prefix}reporters`,
        reporter,
        JSON.stringify(snapshot),
        ttlMs,
      ),
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** What every process published recently, for `flotilla fleet`. */
export async function readRedisReports(
  url: string,
  maxAgeMs: number,
  prefix = DEFAULT_REDIS_PREFIX,
): Promise<{ reporter: string; ageMs: number; snapshot: unknown }[]> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    const [[, time], [, all]] = (await redis
      .multi()
      .time()
      .hgetall(`${prefix}reporters`)
      .exec()) as [[unknown, [string, string]], [unknown, Record<string, string>]];
    const now = Number(time[0]) * 1000 + Number(time[1]) / 1000;
    return Object.entries(all).flatMap(([reporter, value]) => {
      const space = value.indexOf(" ");
      const ageMs = now - Number(value.slice(0, space));
      return ageMs <= maxAgeMs
        ? [{ reporter, ageMs, snapshot: JSON.parse(value.slice(space + 1)) as unknown }]
        : [];
    });
  } finally {
    redis.disconnect();
  }
}
