/** Recent successful call latencies of a dependency; the median gates attempts near a deadline. */
export class LatencyTracker {
  /** A ring in arrival order, to know which sample leaves the window. */
  private readonly samples: number[] = [];
  /** Where the oldest sample is, once the ring is full. */
  private oldest = 0;
  /** The same samples kept in order, so the median is read, not sorted, on every call. */
  private readonly ordered: number[] = [];

  /** `size` (at least 1) samples are kept. */
  constructor(private readonly size = 101) {}

  /** Records one latency. Samples move in place: every call records one, and a splice allocates. */
  record(ms: number): void {
    if (this.samples.length < this.size) {
      this.samples.push(ms);
      this.ordered.push(ms);
      this.settle(this.ordered.length - 1, ms);
      return;
    }
    const gone = this.samples[this.oldest] as number;
    this.samples[this.oldest] = ms;
    this.oldest = (this.oldest + 1) % this.size;
    this.settle(this.rank(gone), ms);
  }

  /** Median of recent samples, or 0 before any was seen. */
  median(): number {
    return this.ordered[Math.floor(this.ordered.length / 2)] ?? 0;
  }

  /** Replaces the sample at `i` with `ms`, shifting the ones between by one so the order holds. */
  private settle(i: number, ms: number): void {
    const o = this.ordered;
    for (; i + 1 < o.length && (o[i + 1] as number) < ms; i++) o[i] = o[i + 1] as number;
    for (; i > 0 && (o[i - 1] as number) > ms; i--) o[i] = o[i - 1] as number;
    o[i] = ms;
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
