import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { TokenBucket, createRng, rngFor } from "../src/sim/index.js";
import { KeyLimits } from "../src/sim/provider/keyLimits.js";

void describe("TokenBucket", () => {
  void it("refills continuously at capacity per period", () => {
    const b = new TokenBucket(60, 60_000, 0);
    assert.equal(b.tryTake(60, 0), true);
    assert.equal(b.tryTake(1, 0), false);
    assert.equal(b.msUntil(1, 0), 1000);
    assert.equal(b.tryTake(1, 1000), true);
  });

  void it("lets output debt push the level below zero and makes the key wait it off", () => {
    const b = new TokenBucket(100, 60_000, 0);
    b.charge(150, 0);
    assert.equal(b.available(0), -50);
    assert.equal(b.msUntil(1, 0), 30_600);
  });

  void it("takes a reservation back, but never beyond its capacity", () => {
    const b = new TokenBucket(100, 60_000, 0);
    b.charge(90, 0);
    b.charge(-50, 0);
    assert.equal(b.available(0), 60);
    b.charge(40, 0);
    // Refilled to full while the reservation was out: returning it adds nothing.
    assert.equal(b.available(60_000), 100);
    b.charge(-40, 60_000);
    assert.equal(b.available(60_000), 100);
  });

  void it("never holds more than its capacity and never admits more than it refilled", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 30 })), {
          maxLength: 60,
        }),
        (steps) => {
          const b = new TokenBucket(50, 10_000, 0);
          let now = 0;
          let taken = 0;
          for (const [dt, n] of steps) {
            now += dt;
            if (b.tryTake(n, now)) taken += n;
            assert.ok(b.available(now) <= 50);
          }
          assert.ok(taken <= 50 + (now * 50) / 10_000 + 1e-9);
        },
      ),
    );
  });
});

void describe("KeyLimits", () => {
  void it("holds a request's max_tokens until it ends, so concurrent requests cannot overspend", () => {
    const key = new KeyLimits({ rpm: 10, outputTpm: 1000 }, 0);
    const first = key.admit(5, 600, 0);
    assert.ok(first.ok);
    // 400 left: a second 600 must wait for 200 tokens, 12 s at 1000/min.
    assert.deepEqual(key.admit(5, 600, 0), {
      ok: false,
      retryAfterMs: 12_000,
      limit: "outputTokens",
    });
    first.settle(10, 0);
    first.settle(10, 0);
    assert.ok(key.admit(5, 600, 0).ok, "590 came back, once");
    assert.equal(key.snapshot(0).outputTokens?.remaining, 390);
    assert.equal(key.snapshot(0).requests?.remaining, 8, "the refused one took nothing");
  });
});

void describe("seeded randomness", () => {
  void it("repeats for the same seed and labels, and differs otherwise", () => {
    const seq = (r: ReturnType<typeof createRng>): number[] =>
      Array.from({ length: 5 }, () => r.next());
    assert.deepEqual(seq(createRng(7)), seq(createRng(7)));
    assert.notDeepEqual(seq(createRng(7)), seq(createRng(8)));
    assert.deepEqual(seq(rngFor(1, "fault", 3)), seq(rngFor(1, "fault", 3)));
    assert.notDeepEqual(seq(rngFor(1, "fault", 3)), seq(rngFor(1, "fault", 4)));
  });

  void it("stays in range", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        (seed, min, span) => {
          const r = createRng(seed);
          const u = r.next();
          const n = r.int(min, min + span);
          assert.ok(u >= 0 && u < 1);
          assert.ok(Number.isInteger(n) && n >= min && n <= min + span);
        },
      ),
    );
  });
});
