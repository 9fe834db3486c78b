/** Recent successful call latencies of a dependency; the median gates attempts near a deadline. */
export class LatencyTracker {
  /** In arrival order, to know which sample leaves the window. */
  private readonly samples: number[] = [];
  /** The same samples kept in order, so the median is read, not sorted, on every call. */
  private readonly ordered: number[] = [];

  constructor(private readonly size = 101) {}

  record(ms: number): void {
    this.samples.push(ms);
    this.ordered.splice(this.rank(ms), 0, ms);
    if (this.samples.length > this.size) {
      const gone = this.samples.shift() as number;
      this.ordered.splice(this.rank(gone), 1);
    }
  }

  /** Median of recent samples, or 0 before any was seen. */
  median(): number {
    return this.ordered[Math.floor(this.ordered.length / 2)] ?? 0;
  }

  /** The first position in `ordered` whose sample is not below `ms`. */
  private rank(ms: number): number {
    let lo = 0;
    let hi = this.ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ordered[mid] as number) < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
