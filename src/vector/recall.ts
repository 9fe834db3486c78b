/** Fraction of the true top-k found in the approximate top-k. */
export function recallAtK(found: ArrayLike<number>, truth: ArrayLike<number>, k: number): number {
  const want = Math.min(k, truth.length);
  if (want === 0) return 1;
  const truthSet = new Set<number>();
  for (let i = 0; i < want; i++) truthSet.add(truth[i]!);
  let hits = 0;
  for (let i = 0; i < Math.min(k, found.length); i++) if (truthSet.has(found[i]!)) hits++;
  return hits / want;
}

export interface Interval {
  mean: number;
  low: number;
  high: number;
  n: number;
}

/**
 * Mean of per-query recalls with a normal-approximation interval, clamped to
 * [0, 1]. Per-query recall rather than pooled hits: the k hits of one query
 * are not independent trials, so pooling them would overstate confidence.
 */
export function meanInterval(values: readonly number[], z: number): Interval {
  const n = values.length;
  if (n === 0) return { mean: NaN, low: 0, high: 1, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, low: 0, high: 1, n };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const half = z * Math.sqrt(variance / n);
  return { mean, low: Math.max(0, mean - half), high: Math.min(1, mean + half), n };
}
