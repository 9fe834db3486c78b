import type { Counter } from "prom-client";

/**
 * Counts by two label values, added to a prom-client counter when it is
 * collected (at every scrape, and by any `get()`), as retries are read from
 * the retry owners. A count made on a step's hot path is then two lookups
 * of strings the caller already holds (a tool's name, an outcome constant)
 * instead of a label object, its validation and a label string built per
 * call. New series reach the counter in the order they were first counted,
 * so the exposition lists them as counting them one by one would.
 */
export class PairCounts<A extends string, B extends string> {
  private readonly counts = new Map<string, Map<string, Tally>>();
  /** Each pair counted since the last collection, in the order first counted. */
  private readonly order: [string, string, Tally][] = [];

  constructor(
    private readonly first: A,
    private readonly second: B,
  ) {}

  inc(a: string, b: string): void {
    let byB = this.counts.get(a);
    if (!byB) this.counts.set(a, (byB = new Map<string, Tally>()));
    let tally = byB.get(b);
    if (!tally) {
      byB.set(b, (tally = { n: 0 }));
      this.order.push([a, b, tally]);
    }
    tally.n++;
  }

  /** Adds what was counted since the last call to `counter`, and starts again from nothing. */
  addTo(counter: Counter<A | B>): void {
    for (const [a, b, tally] of this.order)
      counter.inc({ [this.first]: a, [this.second]: b } as Record<A | B, string>, tally.n);
    this.counts.clear();
    this.order.length = 0;
  }
}

interface Tally {
  n: number;
}
