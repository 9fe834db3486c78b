import { table } from "../../src/cli/output.js";
import type { VectorBenchResult } from "./index.js";
import type { MatchedFigures } from "./matched.js";

const show = (x: number | null | undefined): string =>
  x === null || x === undefined || Number.isNaN(x) ? "n/a" : String(x);

function matchedTable(m: MatchedFigures): string {
  const row = (name: string, key: "single" | "fanout4" | "adaptive4", ratio: string): string[] => {
    const at = m.at[key];
    return [name, show(at?.ef), show(at?.recall), show(at?.beamPerQuery), show(m.qps[key]), ratio];
  };
  return [
    `k = ${m.k}, each at the smallest ef reaching recall@${m.k} ${m.recall}, ` +
      `single on ${m.threads.single} threads, sharded on ${m.threads.sharded}:`,
    table([
      ["", "ef", "recall", "beam/query", "QPS", "QPS / single"],
      row("single index", "single", "1"),
      row("4 hash shards, full fan-out", "fanout4", show(m.fanout4QpsRatio)),
      row("4 hash shards, adaptive", "adaptive4", show(m.adaptive4QpsRatio)),
    ]),
    `  single index on 1 thread: ${show(m.qps.singleOneThread)} QPS ` +
      `(its ${m.threads.single} threads give ${show(m.singleThreadScaling)}×)`,
    `  ${m.timing}`,
  ].join("\n");
}

/** The readable form of `flotilla bench vector`: who got how many threads, then the matched-recall tables. */
export function vectorReport(r: VectorBenchResult): string {
  const routed = r.routedReplicated8;
  const mon = r.monitor;
  return [
    `vector bench: ${r.dataset}, n ${r.n}, ${r.queries} queries, ${r.cores} cores, ` +
      `load ${r.loadAvg1m.start} at start, ${r.loadAvg1m.end} at end`,
    `threads: single index ${r.threads.single}, sharded indexes ${r.threads.sharded} ` +
      `(${r.threads.how})`,
    matchedTable(r.matched),
    matchedTable(r.matchedLargeK),
    `routed, 8 k-means partitions with boundary replication (${routed.storageFactor}× storage): ` +
      (routed.nprobe === null
        ? `recall@${r.k} stays under ${routed.target} at ef ${routed.ef} even probing 8`
        : `recall@${r.k} ${show(routed.recall)} probing ${routed.nprobe} at ef ${routed.ef}`),
    `exact search merged over 4 shards: recall@${r.k} ${r.exactMerge.recall} against one index`,
    `recall monitor, ${mon.evaluated} of ${mon.sampled} sampled queries checked: ` +
      `estimate ${mon.estimated}, offline ${mon.offline} (off by ${mon.absError})`,
    `recall/QPS curves (${r.curveTiming}): see --json`,
  ].join("\n\n");
}
