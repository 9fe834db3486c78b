import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdaptiveConcurrency } from "../src/fleet/aimd.js";
import { FairQueue, type FairItem } from "../src/fleet/fairQueue.js";
import { LocalLimiter } from "../src/fleet/limiter/local.js";
import { FleetScheduler } from "../src/fleet/scheduler.js";
import type { Permit } from "../src/fleet/types.js";
import { flush, manualClock } from "./fleet.clock.js";

describe("AIMD concurrency", () => {
  const aimd = () =>
    new AdaptiveConcurrency({ min: 2, max: 20, initial: 10, decrease: 0.9, increase: 1 });

  it("multiplies by 0.9 on a 429 or a timeout, and adds 1 on a success at saturation", () => {
    const a = aimd();
    a.record("rate_limited", a.started(), true);
    assert.equal(a.limit, 9);
    a.record("timeout", a.started(), true);
    assert.equal(a.limit, 8); // 8.1
    a.record("ok", a.started(), true);
    assert.equal(a.limit, 9); // 9.1
    a.record("ok", a.started(), false);
    a.record("error", a.started(), true);
    assert.equal(a.limit, 9, "unsaturated successes and plain errors leave it alone");
  });

  it("treats a burst of failures from calls in flight together as one signal", () => {
    const a = aimd();
    const stamps = Array.from({ length: 30 }, () => a.started());
    for (const s of stamps) a.record("rate_limited", s, true);
    assert.equal(a.limit, 9);
    a.record("rate_limited", a.started(), true);
    assert.equal(a.limit, 8);
  });

  it("stays within its bounds", () => {
    const a = aimd();
    for (let i = 0; i < 100; i++) a.record("timeout", a.started(), true);
    assert.equal(a.limit, 2);
    for (let i = 0; i < 100; i++) a.record("ok", a.started(), true);
    assert.equal(a.limit, 20);
  });

  it("bounds the calls a scheduler lets in flight, and shrinks the bound on 429s", async () => {
    const clock = manualClock(0);
    const fleet = new FleetScheduler(
      { jitterMs: 0, defaults: { maxConcurrency: 4, minConcurrency: 1 } },
      { backend: new LocalLimiter(clock), clock },
    );
    const admitted: Permit[] = [];
    for (let i = 0; i < 10; i++)
      void fleet
        .acquire(
          { dependency: "d", tenant: "t", estimate: { inputTokens: 1, outputTokens: 1 } },
          new AbortController().signal,
        )
        .then((p) => admitted.push(p));
    await flush();
    assert.equal(admitted.length, 4);
    admitted[0]?.release({ outcome: "rate_limited" }); // 4 → 3.6: three in flight, no room
    await clock.advance(2000);
    assert.equal(admitted.length, 4);
    assert.equal(fleet.snapshot().dependencies[0]?.concurrencyLimit, 3);
    // A success at saturation adds one (3.6 → 4.6): two in flight, room for two more.
    admitted[1]?.release({ outcome: "ok" });
    await flush();
    assert.equal(fleet.snapshot().dependencies[0]?.concurrencyLimit, 4);
    assert.equal(admitted.length, 6);
    for (const p of admitted) p.release({ outcome: "ok" });
    await flush();
    await fleet.close();
  });
});

interface Item extends FairItem {
  id: string;
}

function serve(queue: FairQueue<Item>, n: number): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < n; i++) {
    const head = queue.peek();
    if (!head) break;
    queue.take(head);
    out.push(head);
  }
  return out;
}

function jain(xs: number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  return (sum * sum) / (xs.length * xs.reduce((a, b) => a + b * b, 0));
}

describe("weighted fair queuing", () => {
  it("serves tenants in proportion to their weights, whoever queued first", () => {
    const q = new FairQueue<Item>((t) => (t === "gold" ? 2 : 1));
    // One tenant's whole batch lands before anyone else's.
    for (let i = 0; i < 300; i++) q.push({ id: `a${i}`, tenant: "a", priority: 0, cost: 1 });
    for (const t of ["b", "gold"])
      for (let i = 0; i < 300; i++) q.push({ id: `${t}${i}`, tenant: t, priority: 0, cost: 1 });
    const served = serve(q, 400);
    const count = (t: string) => served.filter((s) => s.tenant === t).length;
    assert.equal(count("a"), 100);
    assert.equal(count("b"), 100);
    assert.equal(count("gold"), 200);
  });

  it("shares by cost: a tenant of big requests gets fewer of them", () => {
    const q = new FairQueue<Item>(() => 1);
    for (let i = 0; i < 100; i++) {
      q.push({ id: `s${i}`, tenant: "small", priority: 0, cost: 100 });
      q.push({ id: `b${i}`, tenant: "big", priority: 0, cost: 400 });
    }
    const served = serve(q, 50);
    assert.equal(served.filter((s) => s.tenant === "small").length, 40);
    assert.equal(served.filter((s) => s.tenant === "big").length, 10);
  });

  it("orders by priority within a tenant, then by arrival", () => {
    const q = new FairQueue<Item>(() => 1);
    q.push({ id: "low1", tenant: "t", priority: 0, cost: 1 });
    q.push({ id: "high", tenant: "t", priority: 5, cost: 1 });
    q.push({ id: "low2", tenant: "t", priority: 0, cost: 1 });
    q.push({ id: "mid", tenant: "t", priority: 1, cost: 1 });
    assert.deepEqual(
      serve(q, 4).map((s) => s.id),
      ["high", "mid", "low1", "low2"],
    );
  });

  it("does not let a tenant bank credit while idle", () => {
    const q = new FairQueue<Item>(() => 1);
    for (let i = 0; i < 100; i++) q.push({ id: `a${i}`, tenant: "a", priority: 0, cost: 1 });
    serve(q, 50);
    for (let i = 0; i < 100; i++) q.push({ id: `late${i}`, tenant: "late", priority: 0, cost: 1 });
    const next = serve(q, 20);
    assert.equal(next.filter((s) => s.tenant === "late").length, 10);
  });

  it("keeps a rate-limited dependency fair between four tenants (Jain ≥ 0.99)", async () => {
    const clock = manualClock(0);
    const fleet = new FleetScheduler(
      { jitterMs: 0, dependencies: { d: { rpm: 600 } } },
      { backend: new LocalLimiter(clock), clock },
    );
    const byTenant: Record<string, number> = { t0: 0, t1: 0, t2: 0, t3: 0 };
    for (const t of Object.keys(byTenant))
      for (let i = 0; i < 50; i++)
        void fleet
          .acquire(
            { dependency: "d", tenant: t, estimate: { inputTokens: 10, outputTokens: 10 } },
            new AbortController().signal,
          )
          .then((p) => {
            byTenant[t] = (byTenant[t] ?? 0) + 1;
            p.release({ outcome: "ok", usage: { inputTokens: 10, outputTokens: 10 } });
          });
    await clock.advance(10_000); // 100 of the 200 requests at 600/min
    const counts = Object.values(byTenant);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      101,
    );
    assert.ok(jain(counts) >= 0.99, `Jain ${jain(counts)} for ${counts.join(",")}`);
    await clock.advance(20_000);
    await fleet.close();
  });
});
