import type { Router } from "../../src/vector/router.js";
import {
  interleavedQps,
  minimalEf,
  round,
  type Config,
  type MatchedPoint,
  type Measure,
  type Timing,
} from "./measure.js";

/** Upper end of the ef bisection for matched recall. */
const MAX_EF = 1024;

export interface MatchedFigures {
  /** The recall@k every strategy must reach; each one's actual recall is in `at`. */
  recall: number;
  k: number;
  /** fanout4 QPS / single QPS, both at their smallest ef reaching `recall`, on the same threads. */
  fanout4QpsRatio: number | null;
  adaptive4QpsRatio: number | null;
  at: { single: MatchedPoint | null; fanout4: MatchedPoint | null; adaptive4: MatchedPoint | null };
  qps: { single: number; fanout4: number; adaptive4: number; singleOneThread: number };
  /**
   * single QPS / singleOneThread QPS, same index and ef: shows the baseline
   * really uses its threads (ideally `threads.single`; less where they contend for memory).
   */
  singleThreadScaling: number | null;
  threads: { single: number; sharded: number };
  timing: string;
}

/**
 * QPS of 4 hash shards, fanned out and adaptive, over the single index's,
 * each at the smallest ef that reaches `target` recall (found by
 * bisection), all searched from the same number of threads and re-timed in
 * alternation. The single index on one thread is timed alongside at its ef,
 * as a check that the baseline's threads were used, not as a comparison.
 */
export async function matchedRecall(
  single: Measure,
  singleOneThread: Measure,
  hash4: Measure,
  adaptive: Router,
  target: number,
  timing: Timing,
): Promise<MatchedFigures> {
  const configs = [
    { m: single, nprobe: 1 },
    { m: hash4, nprobe: 1 },
    { m: hash4, nprobe: 1, router: adaptive },
  ];
  const found: (MatchedPoint | null)[] = [];
  for (const c of configs) found.push(await minimalEf(c, target, 1, MAX_EF));
  const [base, fan, ada] = found;
  let qps = [NaN, NaN, NaN, NaN];
  if (base && fan && ada) {
    const timed: Config[] = configs.map((c, i) => ({ ...c, ef: found[i]!.ef }));
    timed.push({ m: singleOneThread, nprobe: 1, ef: base.ef });
    qps = await interleavedQps(timed, timing);
  }
  const [baseQps, fanQps, adaQps, oneQps] = qps as [number, number, number, number];
  const ratio = (x: number, over: number): number | null =>
    Number.isFinite(x / over) ? round(x / over, 3) : null;
  return {
    recall: target,
    k: single.k,
    fanout4QpsRatio: ratio(fanQps, baseQps),
    adaptive4QpsRatio: ratio(adaQps, baseQps),
    at: { single: base ?? null, fanout4: fan ?? null, adaptive4: ada ?? null },
    qps: { single: baseQps, fanout4: fanQps, adaptive4: adaQps, singleOneThread: oneQps },
    singleThreadScaling: ratio(baseQps, oneQps),
    threads: { single: single.index.threads, sharded: hash4.index.threads },
    timing: timing.label,
  };
}
