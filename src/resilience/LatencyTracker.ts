/** Recent successful call latencies of a dependency; the median gates attempts near a deadline. */
export class LatencyTracker {
  private readonly samples: number[] = [];

  constructor(private readonly size = 101) {}

  record(ms: number): void {
    this.samples.push(ms);
    if (this.samples.length > this.size) this.samples.shift();
  }

  /** Median of recent samples, or 0 before any was seen. */
  median(): number {
    if (this.samples.length === 0) return 0;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  }
}
