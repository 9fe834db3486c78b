import { InvalidArgumentError } from "../../core/errors.js";
import { readPostgresReports } from "../../fleet/limiter/postgres.js";
import { readRedisReports } from "../../fleet/limiter/redis.js";
import type { DependencySnapshot } from "../../fleet/metrics.js";
import type { FleetSnapshot } from "../../fleet/scheduler.js";
import { printJson, printLine, table } from "../output.js";

/** Reports older than this are from processes that stopped (they publish every 2 s). */
const MAX_AGE_MS = 30_000;

interface FleetTotal {
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
  p99QueueWaitMs: number;
  tenantShare: Record<string, number>;
}

/** Adds up what every process reported about one dependency. */
function totals(snapshots: FleetSnapshot[]): FleetTotal[] {
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
    for (const d of ds)
      for (const [t, share] of Object.entries(d.tenantShare))
        tenants[t] = (tenants[t] ?? 0) + share * d.admittedPerMinute.requests;
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
      p99QueueWaitMs: Math.max(0, ...ds.map((d) => d.queueWaitMs.p99)),
      tenantShare: Object.fromEntries(
        Object.entries(tenants).map(([t, n]) => [
          t,
          perMinute.requests === 0 ? 0 : n / perMinute.requests,
        ]),
      ),
    };
  });
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const rate = (value: number, limit: number | undefined) =>
  limit === undefined
    ? `${Math.round(value)}`
    : `${Math.round(value)}/${limit} (${pct(value / limit)})`;

/**
 * `flotilla fleet`: what the schedulers sharing a limiter report — queue
 * depth, waits, admitted rate against the limit, 429 share, per-tenant share.
 * Schedulers publish through their shared limiter, so `--store` names it: the
 * PostgreSQL database or the Redis server they use.
 */
export async function fleetCommand(opts: { store: string; json?: boolean }): Promise<void> {
  const url = opts.store;
  let backend: string;
  let reports: { reporter: string; ageMs: number; snapshot: unknown }[];
  if (/^postgres(ql)?:\/\//.test(url)) {
    backend = "postgres";
    reports = await readPostgresReports(url, MAX_AGE_MS);
  } else if (/^rediss?:\/\//.test(url)) {
    backend = "redis";
    reports = await readRedisReports(url, MAX_AGE_MS);
  } else {
    throw new InvalidArgumentError(
      `fleet metrics live in the shared limiter: --store must be a postgres:// or redis:// URL, received '${url}'`,
    );
  }
  const snapshots = reports.map((r) => r.snapshot as FleetSnapshot);
  const fleet = totals(snapshots);
  if (opts.json)
    return printJson({
      backend,
      processes: reports.map((r) => ({
        reporter: r.reporter,
        ageMs: Math.round(r.ageMs),
        ...(r.snapshot as object),
      })),
      dependencies: fleet,
    });
  if (reports.length === 0)
    return printLine(
      `no fleet scheduler has published to this ${backend} limiter in the last 30 s`,
    );
  const degraded = snapshots.filter((s) => s.degraded).map((s) => s.reporter);
  printLine(`${reports.length} process(es) on the ${backend} limiter`);
  if (degraded.length > 0)
    printLine(`degraded (limiting on a local share): ${degraded.join(", ")}`);
  printLine(
    table([
      [
        "DEPENDENCY",
        "PROCS",
        "QUEUED",
        "IN FLIGHT",
        "REQ/MIN",
        "TOKENS/MIN",
        "BURST REQ/TOKENS",
        "429",
        "WAIT P99",
        "TENANTS",
      ],
      ...fleet.map((d) => [
        d.dependency,
        String(d.processes),
        String(d.queueDepth),
        String(d.inFlight),
        rate(d.requestsPerMinute, d.limits.requests),
        rate(d.tokensPerMinute, d.limits.tokens ?? d.limits.inputTokens),
        `${d.burst.requests ?? 0}/${d.burst.tokens ?? d.burst.inputTokens ?? 0}`,
        pct(d.share429),
        `${Math.round(d.p99QueueWaitMs)} ms`,
        Object.entries(d.tenantShare)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([t, s]) => `${t} ${pct(s)}`)
          .join(", "),
      ]),
    ]),
  );
}
