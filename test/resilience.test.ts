import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isFlotillaError } from "../src/core/errors.js";
import { ProviderError } from "../src/providers/errors.js";
import { backoffDelay } from "../src/resilience/backoff.js";
import { Bulkhead } from "../src/resilience/Bulkhead.js";
import { CircuitBreaker, DEFAULT_BREAKER } from "../src/resilience/CircuitBreaker.js";
import { classify } from "../src/resilience/classify.js";
import { Resilience } from "../src/resilience/Resilience.js";
import { RetryBudget } from "../src/resilience/RetryBudget.js";
import { FakeClock } from "./helpers/fakeClock.js";

const providerError = (kind: ConstructorParameters<typeof ProviderError>[0]["kind"], extra = {}) =>
  new ProviderError({ provider: "sim", kind, ...extra }, kind);
const never = new AbortController().signal;

describe("classification", () => {
  it("retries transient failures and never the caller's own mistakes", () => {
    for (const kind of ["rate_limited", "server", "timeout", "connection"] as const) {
      assert.equal(classify(providerError(kind)).retryable, true, kind);
    }
    for (const kind of [
      "bad_request",
      "auth",
      "quota",
      "context_length",
      "content_policy",
    ] as const) {
      const c = classify(providerError(kind));
      assert.equal(c.retryable, false, kind);
      assert.equal(c.dependencyFault, false, kind);
    }
    assert.equal(classify(providerError("unknown", { status: 409 })).retryable, true);
    assert.equal(classify(providerError("unknown", { status: 408 })).retryable, true);
    assert.equal(
      classify(Object.assign(new Error("reset"), { code: "ECONNRESET" })).retryable,
      true,
    );
    assert.equal(classify(new TypeError("bad arg")).retryable, false);
    assert.equal(
      classify(providerError("rate_limited", { retryAfterMs: 1234 })).retryAfterMs,
      1234,
    );
  });

  it("lets a tool override the defaults", () => {
    const c = classify(new Error("locked"), (e) =>
      (e as Error).message === "locked" ? { retryable: true } : undefined,
    );
    assert.equal(c.retryable, true);
  });
});

describe("backoff", () => {
  it("stays within the capped full-jitter range and never undercuts retry-after", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.nat(60_000),
        (attempt, r, after) => {
          const d = backoffDelay(attempt, () => r, { baseMs: 100, maxMs: 5_000 });
          assert.ok(d >= 0 && d < Math.min(5_000, 100 * 2 ** (attempt - 1)) + 1);
          assert.ok(backoffDelay(attempt, () => r, { baseMs: 100, maxMs: 5_000 }, after) >= after);
        },
      ),
    );
  });
});

describe("retry budget", () => {
  it("allows retries up to the ratio of recent requests (or the floor), never in one burst", async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget(clock, { ratio: 0.1, minRetriesPerWindow: 2, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    let granted = 0;
    while (budget.tryRetry()) granted++;
    assert.equal(granted, 10);
    const burst = new RetryBudget(clock, { ratio: 0.1, minRetriesPerWindow: 2, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) {
      burst.recordRequest();
      if (i % 10 === 9) await clock.advance(1_000);
    }
    granted = 0;
    while (burst.tryRetry()) granted++;
    assert.equal(granted, 2, "savings from quiet seconds are not spent in one burst");
    await clock.advance(11_000);
    for (let i = 0; i < 5; i++) budget.recordRequest();
    granted = 0;
    for (let second = 0; second < 5; second++) {
      while (budget.tryRetry()) granted++;
      await clock.advance(1_000);
    }
    assert.equal(granted, 2, "the floor applies when traffic is low");
  });

  it("counts other workers' requests and retries", () => {
    const budget = new RetryBudget(new FakeClock(), {
      ratio: 0.1,
      minRetriesPerWindow: 0,
      windowMs: 10_000,
    });
    for (let i = 0; i < 10; i++) budget.recordRequest();
    budget.setPeers({ requests: 90, retries: 9 });
    assert.equal(budget.tryRetry(), true);
    assert.equal(budget.tryRetry(), false);
  });
});

describe("circuit breaker", () => {
  it("opens on the failure ratio after the minimum calls, fails fast, probes after the cooldown", async () => {
    const clock = new FakeClock();
    const b = new CircuitBreaker("dep", clock, {
      ...DEFAULT_BREAKER,
      minimumCalls: 4,
      failureRatio: 0.5,
      cooldownMs: 1000,
    });
    const transitions: string[] = [];
    b.onStateChange((s) => transitions.push(s));
    for (const ok of [true, false, true]) b.record(b.admit(), ok);
    assert.equal(b.current, "closed", "below the minimum number of calls");
    b.record(b.admit(), false);
    assert.equal(b.current, "open");
    assert.throws(
      () => b.admit(),
      (e) => isFlotillaError(e, "FLOTILLA_BREAKER_OPEN"),
    );
    await clock.advance(1000);
    const probe = b.admit();
    assert.equal(probe, "probe");
    assert.throws(() => b.admit(), "only one probe at a time");
    b.record(probe, false);
    assert.equal(b.current, "open");
    await clock.advance(1000);
    b.record(b.admit(), true);
    assert.equal(b.current, "closed");
    assert.deepEqual(transitions, ["open", "half-open", "open", "half-open", "closed"]);
    const restored = new CircuitBreaker(
      "dep",
      clock,
      b.options,
      JSON.parse(JSON.stringify(b)) as never,
    );
    assert.equal(restored.current, "closed");
  });

  it("notices an outage at once even after a long healthy spell", () => {
    const b = new CircuitBreaker("dep", new FakeClock(), {
      ...DEFAULT_BREAKER,
      windowCalls: 20,
      minimumCalls: 10,
    });
    for (let i = 0; i < 200; i++) b.record(b.admit(), true);
    for (let i = 0; i < 10; i++) b.record(b.admit(), false);
    assert.equal(b.current, "open", "10 failures among the last 20 calls open it");
  });

  it("adopts a peer's newer open state", () => {
    const clock = new FakeClock();
    const b = new CircuitBreaker("dep", clock);
    b.adopt({ state: "open", openedAt: clock.now() - 10 });
    assert.equal(b.current, "open");
  });
});

describe("dependency retry owner", () => {
  function dep(overrides = {}) {
    const clock = new FakeClock();
    const r = new Resilience(clock, () => 0.5, {
      defaults: { backoff: { baseMs: 100, maxMs: 1000 }, ...overrides },
    });
    return { clock, d: r.dependency("sim:m") };
  }

  it("retries a transient failure and succeeds, honouring retry-after", async () => {
    const { clock, d } = dep();
    let calls = 0;
    const p = d.execute(
      async () => {
        if (++calls === 1) throw providerError("rate_limited", { retryAfterMs: 700 });
        return "ok";
      },
      { signal: never, retryable: true },
    );
    await clock.advance(699);
    assert.equal(calls, 1, "the retry waits for retry-after");
    await clock.advance(1);
    assert.deepEqual(await p, { value: "ok", attempts: 2 });
    assert.equal(d.metrics.retries, 1);
  });

  it("stops at the attempt cap with a don't-retry error, and never retries non-retryable errors or effects", async () => {
    const { clock, d } = dep();
    const failing = d.execute(() => Promise.reject(providerError("server")), {
      signal: never,
      retryable: true,
    });
    const settled = failing.catch((e: unknown) => e);
    await clock.advance(10_000);
    const err = await settled;
    assert.ok(isFlotillaError(err, "FLOTILLA_RETRIES_EXHAUSTED"));
    assert.equal(err.details.dontRetry, true);
    assert.equal(classify(err).retryable, false, "a parent does not retry what a child gave up on");
    let calls = 0;
    await assert.rejects(
      d.execute(
        async () => {
          calls++;
          throw providerError("context_length");
        },
        { signal: never, retryable: true },
      ),
    );
    await assert.rejects(
      d.execute(
        async () => {
          calls++;
          throw providerError("server");
        },
        { signal: never, retryable: false },
      ),
    );
    assert.equal(calls, 2);
  });

  it("keeps amplification near 1.1 during a full outage", async () => {
    const { clock, d } = dep({ maxAttempts: 3, breaker: { minimumCalls: 1_000_000 } });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      calls.push(
        d
          .execute(() => Promise.reject(providerError("server")), {
            signal: never,
            retryable: true,
          })
          .catch(() => undefined),
      );
      await clock.advance(10);
    }
    await clock.advance(60_000);
    await Promise.all(calls);
    assert.ok(d.amplification <= 1.12, `amplification ${d.amplification}`);
    assert.ok(d.metrics.budgetRejections > 0);
  });

  it("refuses to start an attempt that cannot finish before the deadline", async () => {
    const { clock, d } = dep();
    const slow = () => clock.sleep(300).then(() => "ok");
    const first = d.execute(slow, { signal: never, retryable: true });
    await clock.advance(300);
    await first;
    await assert.rejects(
      d.execute(slow, { signal: never, retryable: true, deadline: clock.now() + 100 }),
      (e) => isFlotillaError(e, "FLOTILLA_DEADLINE_EXCEEDED") && /300 ms/.test(e.message),
    );
  });

  it("rejects bad policies with the field named", () => {
    assert.throws(
      () => new Resilience(new FakeClock(), Math.random, { defaults: { maxAttempts: 0 } }),
      (e) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT") && /maxAttempts/.test(e.message),
    );
  });
});

describe("bulkhead", () => {
  it("limits concurrency, queues up to its bound and rejects beyond it", async () => {
    const b = new Bulkhead("tool:x", 1, 1);
    let release: () => void = () => undefined;
    const first = b.execute(() => new Promise<void>((r) => (release = r)), never);
    const second = b.execute(() => Promise.resolve("second"), never);
    await assert.rejects(
      b.execute(() => Promise.resolve(1), never),
      (e) => isFlotillaError(e, "FLOTILLA_BULKHEAD_FULL"),
    );
    release();
    await first;
    assert.equal(await second, "second");
  });
});

describe("shared resilience state", () => {
  it("shares breaker state and retry counts between workers through the store", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const { openStore } = await import("../src/store/open.js");
    const dir = mkdtempSync(path.join(tmpdir(), "flotilla-shared-"));
    const store = await openStore(path.join(dir, "s.db"));
    try {
      const clock = new FakeClock();
      clock.now = () => Date.now();
      const policy = {
        defaults: {
          breaker: { minimumCalls: 2, cooldownMs: 60_000 },
          budget: { minRetriesPerWindow: 0 },
        },
      };
      const a = new Resilience(clock, Math.random, policy);
      const b = new Resilience(clock, Math.random, policy);
      const dep = a.dependency("sim:m");
      for (let i = 0; i < 2; i++) {
        await dep
          .execute(() => Promise.reject(providerError("server")), {
            signal: never,
            retryable: false,
          })
          .catch(() => undefined);
      }
      assert.equal(dep.breakerState, "open");
      for (let i = 0; i < 98; i++) dep.budget.recordRequest();
      assert.equal(
        b.dependency("sim:m").budget.tryRetry(),
        false,
        "no traffic of its own, no budget",
      );
      await a.sync(store, "worker-a");
      await b.sync(store, "worker-b");
      assert.equal(b.dependency("sim:m").breakerState, "open", "worker b fails fast too");
      assert.equal(
        b.dependency("sim:m").budget.tryRetry(),
        true,
        "worker a's requests fund b's retries",
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
