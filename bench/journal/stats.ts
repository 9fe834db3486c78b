/** Four significant figures: enough to compare, few enough to read. */
export function figure(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : x;
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** `value / baseline`, both rounded as reported, so a reader can check the ratio. */
export function ratio(value: number, baseline: number): number {
  return figure(figure(value) / figure(baseline));
}
