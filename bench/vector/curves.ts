import type { Router } from "../../src/vector/router.js";
import { curvePoints, type Config, type CurvePoint, type Measure, type Timing } from "./measure.js";

const PROBES = [1, 2, 4, 8];

export type Curves = Record<
  | "single"
  | "fanout4"
  | "adaptive4"
  | "routed8"
  | "routedReplicated8"
  | "routedReplicated8Unpruned",
  CurvePoint[]
>;

export interface CurveSetup {
  single: Measure;
  hash4: Measure;
  adaptive: Router;
  routed8: Measure;
  replicated8: Measure;
  /** The same centroids and placement as `replicated8`'s router, without query-side pruning. */
  unpruned: Router;
}

/**
 * Recall/QPS curves of every strategy. All points at one ef — the single
 * index, both hash strategies and, at the routed efs, every routed strategy
 * at every nprobe — are timed in one alternation, so two curves read off the
 * same chart were measured in the same window, not minutes apart.
 */
export async function curves(
  s: CurveSetup,
  efs: readonly number[],
  routedEfs: readonly number[],
  timing: Timing,
): Promise<Curves> {
  const out: Curves = {
    single: [],
    fanout4: [],
    adaptive4: [],
    routed8: [],
    routedReplicated8: [],
    routedReplicated8Unpruned: [],
  };
  const columns = [...new Set([...efs, ...routedEfs])].sort((a, b) => a - b);
  for (const ef of columns) {
    const named: [keyof Curves, Config][] = [
      ["single", { m: s.single, ef, nprobe: 1 }],
      ["fanout4", { m: s.hash4, ef, nprobe: 1 }],
      ["adaptive4", { m: s.hash4, ef, nprobe: 1, router: s.adaptive }],
    ];
    if (routedEfs.includes(ef)) {
      for (const nprobe of PROBES) {
        named.push(
          ["routed8", { m: s.routed8, ef, nprobe }],
          ["routedReplicated8", { m: s.replicated8, ef, nprobe }],
          ["routedReplicated8Unpruned", { m: s.replicated8, ef, nprobe, router: s.unpruned }],
        );
      }
    }
    const points = await curvePoints(
      named.map(([, c]) => c),
      timing,
    );
    named.forEach(([name], i) => {
      const p = points[i]!;
      // nprobe means nothing to a hash strategy or the single index.
      if (!name.startsWith("routed")) delete p.nprobe;
      out[name].push(p);
    });
  }
  return out;
}
