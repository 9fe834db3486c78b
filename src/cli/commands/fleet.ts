import type { FleetSnapshot } from "../../fleet/scheduler.js";
import { fleetTotals, readFleetReports } from "../../operator/fleetTotals.js";
import { printJson, printLine, table } from "../output.js";

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
  const { backend, reports } = await readFleetReports(opts.store);
  const snapshots = reports.map((r) => r.snapshot as FleetSnapshot);
  const fleet = fleetTotals(snapshots);
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
