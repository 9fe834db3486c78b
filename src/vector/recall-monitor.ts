import { z } from "zod";
import type { MergedHits } from "./merge.js";
import { meanInterval, recallAtK } from "./recall.js";
import { createRng, type Rng } from "../core/rng.js";
import type { Disposable, SearchEvent } from "./search-result.js";
import { parseOrThrow } from "./validate.js";

const MonitorOptions = z.object({
  /** Fraction of live queries re-run exactly; default 0.05. */
  sampleRate: z.number().gt(0).max(1).default(0.05),
  /** Recall@k below which the monitor alerts; default 0.9. */
  target: z.number().min(0).max(1).default(0.9),
  /** Sampled queries the rolling estimate covers; default 1000. */
  window: z.number().int().min(1).default(1000),
  /** No alert before this many evaluated samples; default 30. */
  minSamples: z.number().int().min(2).default(30),
  /** Sampled queries waiting for exact search beyond this are dropped (and counted); default 256. */
  maxPending: z.number().int().min(1).default(256),
  /** Exact searches sent to the shards in one batch; default 16. */
  batch: z.number().int().min(1).default(16),
  /** Normal quantile of the interval; default 1.96 (95%). */
  z: z.number().gt(0).default(1.96),
  /** Seed of the sampling decisions; default 0. */
  seed: z.number().int().default(0),
});

export type RecallMonitorOptions = z.input<typeof MonitorOptions>;

/** What the monitor needs from an index: its search events and an exact path. */
export interface MonitoredIndex {
  readonly router: { readonly shardCount: number };
  onSearch(listener: (event: SearchEvent) => void): Disposable;
  exactRows(rows: Float32Array, k: number, signal?: AbortSignal): Promise<MergedHits[]>;
}

export interface ShardSignal {
  shard: number;
  /** Queries that asked this shard. */
  asked: number;
  /** Merged results this shard supplied, over all observed queries. */
  contributed: number;
  /** Queries in which this shard was saturated (may have held more of the top-k). */
  saturated: number;
  /** True top-k neighbours held by this shard that sampled queries missed. */
  missed: number;
  /** Of those, how many were missed because the shard was not asked at all (routing loss). */
  missedNotAsked: number;
}

export interface RecallSnapshot {
  observed: number;
  sampled: number;
  evaluated: number;
  dropped: number;
  failed: number;
  /** Rolling recall@k over the last `window` evaluated samples; null before the first. */
  estimate: number | null;
  low: number;
  high: number;
  target: number;
  /** True when the whole interval lies below the target (with at least `minSamples`). */
  alerting: boolean;
  shards: ShardSignal[];
}

interface Sample {
  query: Float32Array;
  k: number;
  ids: number[];
  askedShards: Set<number>;
}

/**
 * Shadow-samples live queries, re-runs them exactly off the hot path, and
 * keeps a rolling recall@k with a confidence interval — the number that
 * turns a silent recall loss (a shard too small in k, a partition not
 * probed) into something a dashboard can alert on. The live query never
 * waits: samples queue and are checked in batches after it has returned.
 */
export class RecallMonitor {
  private readonly o: z.output<typeof MonitorOptions>;
  private readonly rng: Rng;
  private readonly recalls: number[] = [];
  private readonly queue: Sample[] = [];
  private readonly shards: ShardSignal[];
  private readonly alertListeners = new Set<(s: RecallSnapshot) => void>();
  private readonly subscription: Disposable;
  private readonly stop = new AbortController();
  private counts = { observed: 0, sampled: 0, evaluated: 0, dropped: 0, failed: 0 };
  private alerting = false;
  private pump: Promise<void> | null = null;

  constructor(
    private readonly index: MonitoredIndex,
    options: RecallMonitorOptions = {},
  ) {
    this.o = parseOrThrow(MonitorOptions, options, "RecallMonitor options");
    this.rng = createRng(this.o.seed);
    this.shards = Array.from({ length: index.router.shardCount }, (_, shard) => ({
      shard,
      asked: 0,
      contributed: 0,
      saturated: 0,
      missed: 0,
      missedNotAsked: 0,
    }));
    this.subscription = index.onSearch((event) => this.observe(event));
  }

  /** Calls `listener` whenever the alert starts or clears. */
  onAlertChange(listener: (snapshot: RecallSnapshot) => void): Disposable {
    this.alertListeners.add(listener);
    return { dispose: () => this.alertListeners.delete(listener) };
  }

  /** Resolves once every queued sample has been checked. */
  async drain(): Promise<void> {
    while (this.pump) await this.pump;
  }

  /** Stops listening and abandons queued samples. */
  dispose(): void {
    this.subscription.dispose();
    this.stop.abort();
    this.queue.length = 0;
  }

  snapshot(): RecallSnapshot {
    const iv = meanInterval(this.recalls, this.o.z);
    return {
      ...this.counts,
      estimate: iv.n === 0 ? null : iv.mean,
      low: iv.low,
      high: iv.high,
      target: this.o.target,
      alerting: this.alerting,
      shards: this.shards.map((s) => ({ ...s })),
    };
  }

  private observe(event: SearchEvent): void {
    this.counts.observed++;
    const asked = new Set(event.result.asked.map((t) => t.shard));
    for (const s of asked) this.shards[s]!.asked++;
    for (const s of event.result.shards) this.shards[s]!.contributed++;
    for (const s of event.result.saturated) this.shards[s]!.saturated++;
    if (this.stop.signal.aborted || this.rng.next() >= this.o.sampleRate) return;
    this.counts.sampled++;
    if (this.queue.length >= this.o.maxPending) {
      this.counts.dropped++;
      return;
    }
    this.queue.push({
      query: event.query.slice(),
      k: event.k,
      ids: event.result.ids,
      askedShards: asked,
    });
    // setImmediate: the exact search starts after the live caller has its answer.
    this.pump ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.work());
  }

  private async work(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.stop.signal.aborted) {
        const batch = this.queue.splice(0, this.o.batch);
        await Promise.all(groupByK(batch).map((group) => this.check(group)));
      }
    } finally {
      this.pump = null;
    }
  }

  private async check(samples: Sample[]): Promise<void> {
    const dim = samples[0]!.query.length;
    const rows = new Float32Array(samples.length * dim);
    samples.forEach((s, i) => rows.set(s.query, i * dim));
    let truths: MergedHits[];
    try {
      truths = await this.index.exactRows(rows, samples[0]!.k, this.stop.signal);
    } catch {
      // A closed index or an aborted monitor: the samples are lost, not the live queries.
      this.counts.failed += samples.length;
      return;
    }
    samples.forEach((sample, i) => this.record(sample, truths[i]!));
    this.updateAlert();
  }

  private record(sample: Sample, truth: MergedHits): void {
    this.counts.evaluated++;
    this.recalls.push(recallAtK(sample.ids, truth.ids, sample.k));
    if (this.recalls.length > this.o.window) this.recalls.shift();
    const found = new Set(sample.ids);
    truth.ids.forEach((id, j) => {
      if (found.has(id)) return;
      const shard = this.shards[truth.shards[j]!]!;
      shard.missed++;
      if (!sample.askedShards.has(shard.shard)) shard.missedNotAsked++;
    });
  }

  private updateAlert(): void {
    const iv = meanInterval(this.recalls, this.o.z);
    const alerting = iv.n >= this.o.minSamples && iv.high < this.o.target;
    if (alerting === this.alerting) return;
    this.alerting = alerting;
    const snap = this.snapshot();
    for (const listener of this.alertListeners) listener(snap);
  }
}

function groupByK(samples: Sample[]): Sample[][] {
  const groups = new Map<number, Sample[]>();
  for (const s of samples) groups.set(s.k, [...(groups.get(s.k) ?? []), s]);
  return [...groups.values()];
}
