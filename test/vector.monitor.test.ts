import assert from "node:assert/strict";
import { test } from "node:test";
import type { MergedHits } from "../src/vector/merge.js";
import { RecallMonitor, type MonitoredIndex } from "../src/vector/recall-monitor.js";
import { meanInterval } from "../src/vector/recall.js";
import type { Disposable, SearchEvent, SearchResult } from "../src/vector/search-result.js";

/**
 * An index whose exact answer to every query is ids 0..k-1, held half on
 * shard 0 and half on shard 1; tests emit live results with a chosen number
 * of those found.
 */
class FakeIndex implements MonitoredIndex {
  readonly router = { shardCount: 2 };
  exactCalls = 0;
  private listener: ((e: SearchEvent) => void) | undefined;

  onSearch(listener: (e: SearchEvent) => void): Disposable {
    this.listener = listener;
    return { dispose: () => (this.listener = undefined) };
  }

  exactRows(rows: Float32Array, k: number): Promise<MergedHits[]> {
    this.exactCalls++;
    const ids = Array.from({ length: k }, (_, i) => i);
    const one: MergedHits = {
      ids,
      distances: ids.map((i) => i / 10),
      shards: ids.map((i) => (i < k / 2 ? 0 : 1)),
    };
    return Promise.resolve(Array.from({ length: rows.length / 2 }, () => one));
  }

  /** A live query answered with `found` of the true top-10 (the nearest ones), the rest wrong ids. */
  emit(found: number, asked: number[] = [0, 1]): SearchResult {
    const ids = Array.from({ length: 10 }, (_, i) => (i < found ? i : 1000 + i));
    const result: SearchResult = {
      ids,
      distances: ids.map((_, i) => i / 10),
      shards: ids.map((id) => (id < 5 ? 0 : 1)),
      asked: asked.map((shard) => ({ shard, k: 10, ef: 40 })),
      reasked: [],
      saturated: asked.includes(0) ? [0] : [],
    };
    this.listener?.({ query: new Float32Array([1, 0]), k: 10, result });
    return result;
  }
}

void test("a sampled recall estimate converges on the live recall and alerts below target", async () => {
  const index = new FakeIndex();
  const monitor = new RecallMonitor(index, { sampleRate: 1, target: 0.9, minSamples: 20, seed: 1 });
  const alerts: boolean[] = [];
  monitor.onAlertChange((s) => alerts.push(s.alerting));
  for (let i = 0; i < 40; i++) index.emit(i % 2 === 0 ? 7 : 9); // recall 0.7 and 0.9, mean 0.8
  await monitor.drain();
  const snap = monitor.snapshot();
  assert.equal(snap.evaluated, 40);
  assert.ok(Math.abs(snap.estimate! - 0.8) < 1e-9);
  assert.ok(snap.low < 0.8 && snap.high > 0.8 && snap.high < 0.9);
  assert.equal(snap.alerting, true);
  assert.deepEqual(alerts, [true]);

  for (let i = 0; i < 1000; i++) index.emit(10);
  await monitor.drain();
  assert.equal(monitor.snapshot().alerting, false);
  assert.deepEqual(alerts, [true, false]);
  monitor.dispose();
});

void test("exact checks run after the live query returns, in batches", async () => {
  const index = new FakeIndex();
  const monitor = new RecallMonitor(index, { sampleRate: 1, batch: 16 });
  for (let i = 0; i < 32; i++) index.emit(10);
  assert.equal(index.exactCalls, 0, "no exact search may run inside the live query");
  await monitor.drain();
  assert.equal(index.exactCalls, 2);
  assert.equal(monitor.snapshot().evaluated, 32);
  monitor.dispose();
});

void test("sampling follows the rate and the seed; overflow is dropped and counted", async () => {
  const run = async (seed: number): Promise<number> => {
    const index = new FakeIndex();
    const monitor = new RecallMonitor(index, { sampleRate: 0.1, seed });
    for (let i = 0; i < 2000; i++) index.emit(10);
    await monitor.drain();
    monitor.dispose();
    return monitor.snapshot().sampled;
  };
  const a = await run(3);
  assert.equal(await run(3), a);
  assert.ok(a > 150 && a < 250, `sampled ${a} of 2000 at rate 0.1`);

  const index = new FakeIndex();
  const monitor = new RecallMonitor(index, { sampleRate: 1, maxPending: 5 });
  for (let i = 0; i < 8; i++) index.emit(10);
  await monitor.drain();
  const snap = monitor.snapshot();
  assert.equal(snap.sampled, 8);
  assert.equal(snap.dropped, 3);
  assert.equal(snap.evaluated, 5);
  monitor.dispose();
});

void test("per-shard signals count contributions, saturation and misses caused by routing", async () => {
  const index = new FakeIndex();
  const monitor = new RecallMonitor(index, { sampleRate: 1 });
  index.emit(10, [0, 1]);
  index.emit(5, [0]); // ids 0..4 from shard 0 found; 5..9 live on shard 1, which was not asked
  await monitor.drain();
  const [s0, s1] = monitor.snapshot().shards;
  assert.deepEqual(
    { asked: s0!.asked, saturated: s0!.saturated, missed: s0!.missed },
    { asked: 2, saturated: 2, missed: 0 },
  );
  assert.deepEqual(
    { asked: s1!.asked, missed: s1!.missed, missedNotAsked: s1!.missedNotAsked },
    { asked: 1, missed: 5, missedNotAsked: 5 },
  );
  assert.equal(s0!.contributed + s1!.contributed, 20);
  monitor.dispose();
});

void test("the interval narrows with samples and stays within [0, 1]", () => {
  const few = meanInterval([1, 0.8, 0.9], 1.96);
  const many = meanInterval(
    Array.from({ length: 300 }, (_, i) => [1, 0.8, 0.9][i % 3]!),
    1.96,
  );
  assert.ok(many.high - many.low < few.high - few.low);
  assert.ok(few.low >= 0 && few.high <= 1);
  assert.ok(Math.abs(many.mean - 0.9) < 1e-9);
});

void test("invalid monitor options name the field", () => {
  assert.throws(
    () => new RecallMonitor(new FakeIndex(), { sampleRate: 2 }),
    (err: Error & { details?: Record<string, unknown> }) =>
      err.details?.field === "RecallMonitor options.sampleRate",
  );
});
