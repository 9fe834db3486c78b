import { InvalidArgumentError } from "../core/errors.js";
import { readPostgresReports } from "../fleet/limiter/postgres.js";
import { readRedisReports } from "../fleet/limiter/redis.js";
import type { DependencySnapshot } from "../fleet/metrics.js";
import type { FleetSnapshot } from "../fleet/scheduler.js";

/*
 * What the fleet schedulers sharing a limiter report, added up per
 * dependency: `flotilla fleet` prints it, the server's `GET /api/fleet`
 * serves it.
 */

/** Reports older than this are from processes that stopped (they publish every 2 s). */
const MAX_AGE_MS = 30_000;

export interface FleetTotal {
  dependency: string;
  processes: number;
  queueDepth: number;
  inFlight: number;
  requestsPerMinute: number;
  tokensPerMinute: number;
  limits: DependencySnapshot["limits"];
  /** What each bucket may run ahead of its rate, as the first process reports it (all learn the same). */
  burst: DependencySnapshot["burst"];
  /** The fleet's admitted rate over the limit, per bucket (all processes together); above 1 while a burst is spent. */
  admittedOverLimit: Record<string, number>;
  share429: number;
  /** Attempts the provider answered with 429, all processes together. */
  rateLimited: number;
  p99QueueWaitMs: number;
  tenantShare: Record<string, number>;
  /** Calls waiting for admission, by tenant, all processes together. */
  queueByTenant: Record<string, number>;
}

export interface FleetReport {
  reporter: string;
  ageMs: number;
  snapshot: unknown;
}

/** Adds up what every process reported about one dependency. */
export function fleetTotals(snapshots: readonly FleetSnapshot[]): FleetTotal[] {
  const byDep = new Map<string, DependencySnapshot[]>();
  for (const s of snapshots)
    for (const d of s.dependencies)
      byDep.set(d.dependency, [...(byDep.get(d.dependency) ?? []), d]);
  return [...byDep].map(([dependency, ds]) => {
    const sum = (f: (d: DependencySnapshot) => number) => ds.reduce((n, d) => n + f(d), 0);
    const limits = ds[0]?.limits ?? {};
    const perMinute = {
      requests: sum((d) => d.admittedPerMinute.requests),
      tokens: sum((d) => d.admittedPerMinute.tokens),
      inputTokens: sum((d) => d.admittedPerMinute.inputTokens),
      outputTokens: sum((d) => d.admittedPerMinute.outputTokens),
    };
    const attempts = sum((d) => Object.values(d.attempts).reduce((a, b) => a + b, 0));
    const tenants: Record<string, number> = {};
    const queued: Record<string, number> = {};
    for (const d of ds) {
      for (const [t, share] of Object.entries(d.tenantShare))
        tenants[t] = (tenants[t] ?? 0) + share * d.admittedPerMinute.requests;
      for (const [t, n] of Object.entries(d.queueByTenant ?? {})) queued[t] = (queued[t] ?? 0) + n;
    }
    return {
      dependency,
      processes: ds.length,
      queueDepth: sum((d) => d.queueDepth),
      inFlight: sum((d) => d.inFlight),
      requestsPerMinute: perMinute.requests,
      tokensPerMinute: perMinute.tokens,
      limits,
      burst: ds[0]?.burst ?? {},
      admittedOverLimit: Object.fromEntries(
        Object.entries(limits).map(([k, limit]) => [
          k,
          perMinute[k as keyof typeof perMinute] / limit,
        ]),
      ),
      share429: attempts === 0 ? 0 : sum((d) => d.attempts.rate_limited) / attempts,
      rateLimited: sum((d) => d.attempts.rate_limited),
      p99QueueWaitMs: Math.max(0, ...ds.map((d) => d.queueWaitMs.p99)),
      tenantShare: Object.fromEntries(
        Object.entries(tenants).map(([t, n]) => [
          t,
          perMinute.requests === 0 ? 0 : n / perMinute.requests,
        ]),
      ),
      queueByTenant: queued,
    };
  });
}

/** Whether fleet metrics can be read from this URL: a PostgreSQL database or a Redis server. */
export function limiterBackendOf(url: string): "postgres" | "redis" | undefined {
  if (/^postgres(ql)?:\/\//.test(url)) return "postgres";
  if (/^rediss?:\/\//.test(url)) return "redis";
  return undefined;
}

/**
 * What the schedulers published to the limiter at `url` in the last 30 s.
 * Schedulers publish through their shared limiter, so the URL names it.
 */
export async function readFleetReports(
  url: string,
): Promise<{ backend: "postgres" | "redis"; reports: FleetReport[] }> {
  const backend = limiterBackendOf(url);
  if (backend === undefined)
    throw new InvalidArgumentError(
      `fleet metrics live in the shared limiter: --store must be a postgres:// or redis:// URL, received '${url}'`,
    );
  const reports =
    backend === "postgres"
      ? await readPostgresReports(url, MAX_AGE_MS)
      : await readRedisReports(url, MAX_AGE_MS);
  return { backend, reports };
}
