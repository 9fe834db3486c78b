import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gcraReserve, gcraSettle, type Charge } from "../src/fleet/gcra.js";
import { readHeaders } from "../src/fleet/headers.js";
import { LocalLimiter } from "../src/fleet/limiter/local.js";
import { FleetScheduler } from "../src/fleet/scheduler.js";
import { flush, manualClock } from "./fleet.clock.js";

const rpm = (limit: number, units = 1, toleranceMs = 0): Charge => ({
  bucket: "requests",
  units,
  intervalMs: 60_000 / limit,
  toleranceMs,
});

describe("GCRA buckets", () => {
  it("enforces 60 per minute as one per second, with no burst at the top of the minute", async () => {
    const clock = manualClock(0);
    const local = new LocalLimiter(clock);
    assert.equal(local.reserveNow("d", [rpm(60)]), 0);
    assert.equal(local.reserveNow("d", [rpm(60)]), 1000, "the second waits one interval");
    await clock.advance(999);
    assert.equal(local.reserveNow("d", [rpm(60)]), 1);
    await clock.advance(1);
    assert.equal(local.reserveNow("d", [rpm(60)]), 0);
    // An hour idle banks nothing: still one now, the next a second later.
    await clock.advance(3_600_000);
    assert.equal(local.reserveNow("d", [rpm(60)]), 0);
    assert.equal(local.reserveNow("d", [rpm(60)]), 1000);
  });

  it("admits a request larger than the tolerance once earlier debt is paid, never refusing it forever", () => {
    const tokens: Charge = {
      bucket: "tokens",
      units: 5000,
      intervalMs: 60_000 / 1000,
      toleranceMs: 0,
    };
    const first = gcraReserve([0], [tokens], 10_000);
    assert.ok("tats" in first);
    assert.deepEqual(first.tats, [10_000 + 300_000]);
    const second = gcraReserve(first.tats, [tokens], 10_000);
    assert.equal(second.waitMs, 300_000);
  });

  it("takes from every bucket or from none", async () => {
    const clock = manualClock(0);
    const local = new LocalLimiter(clock);
    const tokens: Charge = { bucket: "tokens", units: 100, intervalMs: 60, toleranceMs: 0 };
    assert.equal(local.reserveNow("d", [rpm(600), tokens]), 0);
    // Requests would allow one more after 100 ms; tokens only after 6 s.
    await clock.advance(100);
    assert.equal(local.reserveNow("d", [rpm(600), tokens]), 5900);
    // The refused reservation took nothing from the request bucket.
    assert.equal(local.reserveNow("d", [rpm(600)]), 0);
  });

  it("reconciles: unused reservation is refunded, overuse is charged, floors hold", () => {
    const charge = { bucket: "tokens", units: 0, intervalMs: 10 } as const;
    assert.equal(gcraSettle(5000, { ...charge, units: -200, floorMs: 0 }, 1000), 3000);
    assert.equal(gcraSettle(5000, { ...charge, units: 50, floorMs: 0 }, 1000), 5500);
    assert.equal(gcraSettle(1000, { ...charge, units: 0, floorMs: 7000 }, 1000), 8000);
    assert.equal(
      gcraSettle(9000, { ...charge, units: 0, floorMs: 7000 }, 1000),
      9000,
      "a floor only raises",
    );
  });

  it("sorts the provider's headers by bucket, and keeps retry-after", () => {
    const fb = readHeaders({
      limitRequests: 30,
      remainingRequests: 0,
      resetRequestsMs: 9000,
      limitTokens: 6000,
      remainingTokens: 100,
      retryAfterMs: 2500,
    });
    assert.deepEqual(fb.buckets, {
      requests: { limit: 30, remaining: 0, resetMs: 9000 },
      tokens: { limit: 6000, remaining: 100 },
    });
    assert.equal(fb.retryAfterMs, 2500);
    assert.deepEqual(readHeaders({ limitRequests: 0, retryAfterMs: 0 }), { buckets: {} });
  });
});

function scheduler(
  clock = manualClock(0),
  options: ConstructorParameters<typeof FleetScheduler>[0] = {},
) {
  return {
    clock,
    fleet: new FleetScheduler(
      { jitterMs: 0, ...options },
      { backend: new LocalLimiter(clock), clock, random: () => 0 },
    ),
  };
}

const ask = (tenant = "t", inputTokens = 100, outputTokens = 100) => ({
  dependency: "sim:m",
  tenant,
  estimate: { inputTokens, outputTokens },
});

describe("admission with reserve-then-reconcile", () => {
  it("paces callers at the configured limit until the provider reports its bucket", async () => {
    const { clock, fleet } = scheduler(manualClock(0), { dependencies: { "sim:m": { rpm: 120 } } });
    const admittedAt: number[] = [];
    const all = Array.from({ length: 5 }, () =>
      fleet.acquire(ask(), new AbortController().signal).then((p) => {
        admittedAt.push(clock.now());
        p.release({ outcome: "ok", usage: { inputTokens: 100, outputTokens: 100 } });
        return p;
      }),
    );
    await clock.advance(3000);
    const permits = await Promise.all(all);
    assert.deepEqual(admittedAt, [0, 500, 1000, 1500, 2000]);
    assert.deepEqual(
      permits.map((p) => p.waitedMs),
      [0, 500, 1000, 1500, 2000],
    );
    await fleet.close();
  });

  it("gives back what a call did not use, so the next one goes sooner", async () => {
    const { clock, fleet } = scheduler(manualClock(0), {
      dependencies: { "sim:m": { tpm: 6000 } },
    });
    // 6000 tokens/min: a 1000-token reservation holds the bucket for 10 s.
    const first = await fleet.acquire(ask("t", 500, 500), new AbortController().signal);
    let secondAt: number | undefined;
    const second = fleet.acquire(ask("t", 500, 500), new AbortController().signal).then((p) => {
      secondAt = clock.now();
      return p;
    });
    await clock.advance(1000);
    first.release({ outcome: "ok", usage: { inputTokens: 400, outputTokens: 100 } });
    await clock.advance(10_000);
    await second;
    // Real usage 500: the second call starts at 5 s, not 10 s.
    assert.equal(secondAt, 5000);
    await fleet.close();
  });

  it("honours retry-after on a 429 for every waiting caller", async () => {
    const { clock, fleet } = scheduler();
    const p1 = await fleet.acquire(ask(), new AbortController().signal);
    let at: number | undefined;
    const waiting = fleet.acquire(ask(), new AbortController().signal).then((p) => {
      at = clock.now();
      return p;
    });
    await flush();
    // Unlimited, so the second was admitted at once; the third meets the closure.
    (await waiting).release({ outcome: "rate_limited", rateLimit: { retryAfterMs: 4000 } });
    let third: number | undefined;
    const t = fleet.acquire(ask(), new AbortController().signal).then((p) => {
      third = clock.now();
      return p;
    });
    await clock.advance(3999);
    assert.equal(third, undefined);
    await clock.advance(1);
    (await t).release({ outcome: "ok" });
    assert.equal(at, 0);
    assert.equal(third, 4000);
    p1.release({ outcome: "ok" });
    await fleet.close();
  });

  it("follows a lower limit the provider reports, bursting only what it says is left", async () => {
    const { clock, fleet } = scheduler(manualClock(0), { dependencies: { "sim:m": { rpm: 600 } } });
    const p = await fleet.acquire(ask(), new AbortController().signal);
    p.release({ outcome: "ok", rateLimit: { limitRequests: 60, remainingRequests: 10 } });
    const times: number[] = [];
    const next = Array.from({ length: 12 }, () =>
      fleet.acquire(ask(), new AbortController().signal).then((q) => {
        times.push(clock.now());
        q.release({ outcome: "ok" });
      }),
    );
    await clock.advance(4000);
    await Promise.all(next);
    // 10 left less 1.2 headroom: 8 at once, then one a second at 60/min (not 600).
    assert.deepEqual(times, [...Array<number>(8).fill(0), 200, 1200, 2200, 3200]);
    assert.equal(fleet.snapshot().dependencies[0]?.limits.requests, 60);
    await fleet.close();
  });

  it("closes for a second on a 429 without retry-after, and for the reported reset when the size is unknown", async () => {
    for (const [rateLimit, outcome, closedMs] of [
      [undefined, "rate_limited", 1000],
      [{ remainingRequests: 0, resetRequestsMs: 5000 }, "ok", 5000],
      [{ remainingRequests: 3, resetRequestsMs: 5000 }, "ok", 0],
    ] as const) {
      const { clock, fleet } = scheduler();
      (await fleet.acquire(ask(), new AbortController().signal)).release({
        outcome,
        ...(rateLimit && { rateLimit }),
      });
      let at: number | undefined;
      const next = fleet.acquire(ask(), new AbortController().signal).then((p) => {
        at = clock.now();
        return p;
      });
      await clock.advance(6000);
      (await next).release({ outcome: "ok" });
      assert.equal(at, closedMs, JSON.stringify(rateLimit));
      await fleet.close();
    }
  });

  it("rejects a cancelled waiter with the signal's reason and serves the next", async () => {
    const { clock, fleet } = scheduler(manualClock(0), { dependencies: { "sim:m": { rpm: 60 } } });
    (await fleet.acquire(ask(), new AbortController().signal)).release({ outcome: "ok" });
    const ac = new AbortController();
    const cancelled = fleet.acquire(ask("a"), ac.signal);
    const served = fleet.acquire(ask("b"), new AbortController().signal);
    await flush();
    ac.abort(new Error("stop"));
    await assert.rejects(cancelled, /stop/);
    await clock.advance(1000);
    assert.equal((await served).waitedMs, 1000);
    await fleet.close();
  });

  it("says which field of a request was wrong and what it received", async () => {
    const { fleet } = scheduler();
    await assert.rejects(
      fleet.acquire(
        { dependency: "d", tenant: "t", estimate: { inputTokens: -3, outputTokens: 1 } },
        new AbortController().signal,
      ),
      (err: Error) => /estimate\.inputTokens/.test(err.message) && /-3/.test(err.message),
    );
    assert.throws(
      () => new FleetScheduler({ burstMs: -1 }, { backend: new LocalLimiter(manualClock()) }),
      /fleet options\.burstMs.*received -1/,
    );
    await fleet.close();
  });
});
