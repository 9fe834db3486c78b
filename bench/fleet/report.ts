import { table } from "../../src/cli/output.js";
import type { FleetBenchResult } from "./index.js";
import type { WindowFigures } from "./window.js";

/** The bench's result as the CLI holds it: a PostgreSQL it could not reach is `skipped`. */
export type FleetReport = FleetBenchResult & { postgres?: { skipped: string } };

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function windowTable(r: FleetReport): string {
  const row = (label: string, f: (w: WindowFigures) => string): string[] => [
    label,
    f(r.naive),
    f(r.flotilla),
  ];
  return table([
    ["", "naive (SDK retries)", "Flotilla"],
    row("goodput of admissible", (w) => `${w.goodputOfAdmissible} (${w.binding})`),
    row("answered calls / tokens", (w) => `${w.answered.calls} / ${w.answered.tokens}`),
    row("  useful (task not failed)", (w) => `${w.usefulCalls} / ${w.usefulTokens}`),
    row(
      "tasks done / failed / cut",
      (w) => `${w.tasks.completed} / ${w.tasks.failed} / ${w.tasks.cut}`,
    ),
    row("provider requests", (w) => String(w.providerRequests)),
    row("429s", (w) => `${w.status429} (${pct(w.status429Share)})`),
    row("tenant fairness (Jain)", (w) => String(w.jainFairness)),
    row("  in the window's second half", (w) => String(w.jainFairnessSecondHalf)),
    ["p99 queue wait", "", `${r.flotilla.p99QueueWaitMs ?? "?"} ms`],
  ]);
}

/** The readable form of `flotilla bench fleet`: the fleet, the small job, the shared limiter, every target. */
export function fleetReport(r: FleetReport): string {
  const s = r.scenario;
  const admissible = r.flotilla.admissible;
  const parts = [
    `fleet bench: ${s.threads} agents of ${s.tenants} tenants, tasks of ${s.callsPerTask} calls, ` +
      `${s.windowMs / 1000} s window on both sides; key ${s.rpm} RPM / ${s.tpm} TPM ` +
      `(${s.keyBuckets}): ${admissible.requests} requests / ${admissible.tokens} tokens admissible`,
    windowTable(r),
    `naive: ${r.naive.client ?? "?"}`,
    "",
    `small job (${s.smallJob.agents} agents × ${s.smallJob.calls} calls, fits the burst):`,
    table([
      ["", "naive", "Flotilla"],
      ["wall time", `${r.smallJob.naive.wallSeconds} s`, `${r.smallJob.flotilla.wallSeconds} s`],
      ["429s", String(r.smallJob.naive.status429), String(r.smallJob.flotilla.status429)],
      [
        "provider requests",
        String(r.smallJob.naive.providerRequests),
        String(r.smallJob.flotilla.providerRequests),
      ],
    ]),
    `Flotilla / naive: ${r.smallJob.ratio}×`,
  ];
  if (r.shared.length > 0)
    parts.push(
      "",
      "shared limiter (2 processes, one key):",
      table([
        ["backend", "admitted", "most over refill / bucket", "429s", "degraded"],
        ...r.shared.map((x) => [
          x.backend,
          `${x.admitted} (${x.admittedByProcess.join(" + ")})`,
          String(x.admittedOverBucket),
          String(x.status429),
          String(x.degraded),
        ]),
      ]),
    );
  if (r.postgres) parts.push(`postgres: skipped (${r.postgres.skipped})`);
  parts.push(
    "",
    "checks:",
    ...r.checks.map(
      (c) => `  ${c.met ? "ok  " : "MISS"} ${c.figure} = ${c.value} (target ${c.target})`,
    ),
  );
  return parts.join("\n");
}
