import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
import { LocalLimiter } from "../src/fleet/limiter/local.js";
import { FleetScheduler } from "../src/fleet/scheduler.js";
import type { FleetOptions } from "../src/fleet/options.js";
import type { Permit } from "../src/fleet/types.js";
import type { RateLimitState } from "../src/providers/types.js";
import { isProviderError, type ProviderError } from "../src/providers/errors.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { startSimProvider } from "../src/sim/index.js";
import { manualClock, type ManualClock } from "./fleet.clock.js";

function scheduler(clock: ManualClock, options: FleetOptions) {
  return new FleetScheduler(
    { jitterMs: 0, ...options },
    { backend: new LocalLimiter(clock), clock, random: () => 0 },
  );
}

const ask = { dependency: "p:m", tenant: "t", estimate: { inputTokens: 10, outputTokens: 10 } };

/** Queues `n` callers; each records when it was admitted and keeps its permit. */
function callers(fleet: FleetScheduler, clock: ManualClock, n: number) {
  const admittedAt: number[] = [];
  const permits: Permit[] = [];
  for (let i = 0; i < n; i++)
    void fleet.acquire(ask, new AbortController().signal).then((p) => {
      admittedAt.push(clock.now());
      permits.push(p);
    });
  return { admittedAt, permits };
}

const ok = (rateLimit: RateLimitState = {}) => ({
  outcome: "ok" as const,
  usage: { inputTokens: 10, outputTokens: 10 },
  rateLimit,
});

describe("the provider's burst, learned from its headers", () => {
  it("sends one call until the first answer, then admits at once what the headers say fits", async () => {
    const clock = manualClock(0);
    const fleet = scheduler(clock, { dependencies: { "p:m": { rpm: 60 } } });
    const { admittedAt, permits } = callers(fleet, clock, 20);
    await clock.advance(300);
    assert.deepEqual(admittedAt, [0], "nothing says yet what is left in the bucket");
    permits[0]?.release(ok({ limitRequests: 60, remainingRequests: 59 }));
    await clock.advance(0);
    assert.deepEqual(admittedAt, [0, ...Array<number>(19).fill(300)]);
    // 60 less 2% headroom.
    assert.equal(fleet.snapshot().dependencies[0]?.burst.requests, 58);
    for (const p of permits) p.release(ok());
    await fleet.close();
  });

  it("paces smoothly once an answer shows the dependency reports no bucket", async () => {
    const clock = manualClock(0);
    const fleet = scheduler(clock, { dependencies: { "p:m": { rpm: 60 } } });
    const { admittedAt, permits } = callers(fleet, clock, 4);
    await clock.advance(300);
    permits[0]?.release(ok());
    await clock.advance(3000);
    // Its limit may be a sliding window, which a burst would break.
    assert.deepEqual(admittedAt, [0, 1000, 2000, 3000]);
    assert.equal(fleet.snapshot().dependencies[0]?.burst.requests, 0);
    for (const p of permits) p.release(ok());
    await fleet.close();
  });

  it("does not starve a process that has not heard yet behind another's burst", async () => {
    const clock = manualClock(0);
    const shared = new LocalLimiter(clock);
    const open = () =>
      new FleetScheduler(
        { jitterMs: 0, dependencies: { "p:m": { rpm: 60 } } },
        { backend: shared, clock, random: () => 0 },
      );
    const [a, b] = [open(), open()];
    (await a.acquire(ask, new AbortController().signal)).release(
      ok({ limitRequests: 60, remainingRequests: 59 }),
    );
    const burst = callers(a, clock, 57);
    await clock.advance(0);
    assert.equal(burst.admittedAt.length, 57, "a drew the bucket down to its headroom");
    const late = callers(b, clock, 1);
    await clock.advance(1000);
    // b presumes the same bucket, so it waits for room, not for a's whole burst to be repaid (57 s).
    assert.deepEqual(late.admittedAt, [200]);
    for (const p of [...burst.permits, ...late.permits]) p.release(ok());
    await a.close();
    await b.close();
  });

  it("never draws on more than the provider says is left, less headroom", async () => {
    const clock = manualClock(0);
    const fleet = scheduler(clock, { dependencies: { "p:m": { rpm: 60 } } });
    const { admittedAt, permits } = callers(fleet, clock, 8);
    await clock.advance(300);
    // Another client of the key has used most of it: 5 of 60 are left.
    permits[0]?.release(ok({ limitRequests: 60, remainingRequests: 5 }));
    await clock.advance(0);
    // 5 left, 1.2 kept back: 3 go now, then one a second as the bucket refills.
    assert.deepEqual(admittedAt, [0, 300, 300, 300]);
    await clock.advance(1700);
    assert.deepEqual(admittedAt, [0, 300, 300, 300, 500, 1500]);
    for (const p of permits) p.release(ok());
    await clock.advance(10_000);
    await fleet.close();
  });

  it("learns a bucket nobody configured, and its token bucket too", async () => {
    const clock = manualClock(0);
    const fleet = scheduler(clock, {});
    const first = await fleet.acquire(ask, new AbortController().signal);
    // 1200 tokens a minute, of which 100 are left: a bucket the first call was never charged to.
    first.release(
      ok({ limitRequests: 600, remainingRequests: 599, limitTokens: 1200, remainingTokens: 100 }),
    );
    const { admittedAt, permits } = callers(fleet, clock, 4);
    await clock.advance(0);
    // Each call takes 20 tokens; 100 − 24 headroom leaves room for 3.
    assert.deepEqual(admittedAt, [0, 0, 0]);
    assert.deepEqual(fleet.snapshot().dependencies[0]?.limits, { requests: 600, tokens: 1200 });
    // 40 are left, 24 kept back: the fourth lacks 4 tokens, 200 ms at 1200/min.
    await clock.advance(199);
    assert.equal(admittedAt.length, 3);
    await clock.advance(1);
    assert.deepEqual(admittedAt, [0, 0, 0, 200]);
    for (const p of permits) p.release(ok());
    await fleet.close();
  });

  it("pauses for retry-after on a 429, then refills from empty", async () => {
    const clock = manualClock(0);
    const fleet = scheduler(clock, {});
    const first = await fleet.acquire(ask, new AbortController().signal);
    first.release(ok({ limitRequests: 60, remainingRequests: 59 }));
    const limited = await fleet.acquire(ask, new AbortController().signal);
    limited.release({
      outcome: "rate_limited",
      rateLimit: { limitRequests: 60, remainingRequests: 0, retryAfterMs: 5000 },
    });
    const { admittedAt, permits } = callers(fleet, clock, 3);
    await clock.advance(4999);
    assert.deepEqual(admittedAt, [], "closed for retry-after");
    await clock.advance(1);
    assert.deepEqual(admittedAt, [5000]);
    await clock.advance(2000);
    assert.deepEqual(admittedAt, [5000, 6000, 7000], "then at the refill rate, no burst");
    for (const p of permits) p.release(ok());
    await fleet.close();
  });

  it("lets burstMs cap the learned burst, and burstMs 0 pace smoothly", async () => {
    for (const [burstMs, expected] of [
      [2000, [0, 300, 300, 1000, 2000]],
      [0, [0, 1000, 2000, 3000, 4000]],
    ] as const) {
      const clock = manualClock(0);
      const fleet = scheduler(clock, { burstMs, dependencies: { "p:m": { rpm: 60 } } });
      const { admittedAt, permits } = callers(fleet, clock, 5);
      await clock.advance(300);
      permits[0]?.release(ok({ limitRequests: 60, remainingRequests: 59 }));
      await clock.advance(4000);
      assert.deepEqual(admittedAt, expected, `burstMs ${burstMs}`);
      for (const p of permits) p.release(ok());
      await fleet.close();
    }
  });

  it("refuses a burstMs that is not a non-negative number, naming the field", () => {
    for (const burstMs of [-1, Number.NaN, Infinity, "5000"])
      assert.throws(
        () => scheduler(manualClock(0), { burstMs } as unknown as FleetOptions),
        (err: unknown) =>
          isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") &&
          /fleet options\.burstMs/.test(err.message),
        String(burstMs),
      );
  });
});

describe("the provider's burst against the simulated provider", () => {
  /**
   * `callers` agents of `calls` calls each through the scheduler, on the
   * scheduler's fake clock (the simulator answers at once); returns when each
   * call was admitted and the simulator's counts.
   */
  async function fleetRun(o: {
    callers: number;
    calls: number;
    /** Requests another client of the key made just before. */
    usedBefore?: number;
    untilMs: number;
  }) {
    const clock = manualClock(0);
    const sim = await startSimProvider(
      { limits: { rpm: 60, tpm: 100_000 }, output: { minTokens: 5, maxTokens: 5 } },
      { clock: { now: () => clock.now(), sleep: () => Promise.resolve() } },
    );
    const fleet = new FleetScheduler(
      { jitterMs: 0, dependencies: { "sim:m": { rpm: 60 } } },
      { backend: new LocalLimiter(clock), clock, random: () => 0 },
    );
    const provider = createOpenAIProvider({ name: "sim", baseURL: sim.openaiBaseURL, apiKey: "k" });
    const request = {
      model: "m",
      messages: [{ role: "user" as const, content: "hi" }],
      maxTokens: 8,
    };
    try {
      for (let i = 0; i < (o.usedBefore ?? 0); i++)
        await provider.complete(request, { signal: new AbortController().signal });
      const admittedAt: number[] = [];
      let done = 0;
      let talking = 0;
      const agent = async () => {
        for (let c = 0; c < o.calls; c++) {
          const signal = new AbortController().signal;
          const permit = await fleet.acquire(
            { dependency: "sim:m", tenant: "t", estimate: { inputTokens: 4, outputTokens: 8 } },
            signal,
          );
          admittedAt.push(clock.now());
          talking++;
          try {
            const r = await provider.complete(request, { signal });
            permit.release({
              outcome: "ok",
              usage: r.usage,
              ...(r.rateLimit && { rateLimit: r.rateLimit }),
            });
          } catch (err) {
            const e = err as ProviderError;
            permit.release({
              outcome: isProviderError(err, "rate_limited") ? "rate_limited" : "error",
              ...(e.rateLimit && {
                rateLimit: { ...e.rateLimit, retryAfterMs: e.retryAfterMs ?? 0 },
              }),
            });
          } finally {
            talking--;
          }
        }
        done++;
      };
      const agents = Array.from({ length: o.callers }, agent);
      // Fake time moves only while no call is on the wire: the simulator answers in no time.
      while (done < o.callers && clock.now() < o.untilMs) {
        await new Promise((r) => setTimeout(r, 1));
        if (talking === 0) await clock.advance(100);
      }
      await Promise.all(agents);
      return { admittedAt, stats: sim.stats() };
    } finally {
      await fleet.close();
      await sim.close();
    }
  }

  it("runs a job that fits the bucket in one burst, with no 429", async () => {
    const { admittedAt, stats } = await fleetRun({ callers: 8, calls: 5, untilMs: 60_000 });
    assert.equal(stats.rateLimited, 0);
    assert.equal(stats.completed, 40);
    // The first answer teaches the bucket; the other 39 calls do not wait for the smooth rate (39 s).
    assert.equal(Math.max(...admittedAt), 0);
  });

  it("keeps to the provider's rate once the bucket is spent, with no 429", async () => {
    const { admittedAt, stats } = await fleetRun({ callers: 10, calls: 9, untilMs: 120_000 });
    assert.equal(stats.rateLimited, 0);
    assert.equal(stats.completed, 90);
    // 58 in the burst (60 less headroom), then never faster than the bucket refills.
    assert.equal(admittedAt.filter((t) => t === 0).length, 58);
    const after = admittedAt.slice(58);
    for (let i = 1; i < after.length; i++)
      assert.ok((after[i] ?? 0) - (after[i - 1] ?? 0) >= 1000, after.join(","));
  });

  it("bursts only what another client of the key left, with no 429", async () => {
    const { admittedAt, stats } = await fleetRun({
      callers: 10,
      calls: 3,
      usedBefore: 40,
      untilMs: 60_000,
    });
    assert.equal(stats.rateLimited, 0);
    assert.equal(stats.completed, 70);
    // 20 were left: the first call, then 17 more once its answer said so.
    assert.equal(admittedAt.filter((t) => t === 0).length, 18);
  });
});
