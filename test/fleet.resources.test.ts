import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isFlotillaError } from "../src/core/errors.js";
import { LockOrderError, ResourceTimeoutError } from "../src/fleet/errors.js";
import { SharedResources, type ResourceHold } from "../src/fleet/resources.js";
import { flush, manualClock } from "./fleet.clock.js";

const NAMES = ["db", "file", "queue", "search", "smtp"];

describe("shared resources", () => {
  it("never deadlocks, whatever order owners ask in (random scripts, no timeouts)", async () => {
    const step = fc.record({
      wants: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }),
      units: fc.integer({ min: 1, max: 2 }),
      holdMs: fc.integer({ min: 0, max: 50 }),
      /** Ask for more while holding (in any order: out-of-order asks must be refused, not hang). */
      nested: fc.option(fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 2 })),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 8 }),
        async (owners) => {
          const clock = manualClock(0);
          const pool = new SharedResources(
            { capacities: { db: 2, queue: 3 }, timeoutMs: Infinity },
            clock,
          );
          const run = async (script: (typeof owners)[number], o: number): Promise<void> => {
            for (const s of script) {
              const hold = await pool.acquire(
                s.wants.map((name) => ({
                  name,
                  units: name === "db" || name === "queue" ? s.units : 1,
                })),
                { owner: `o${o}` },
              );
              let inner: ResourceHold | undefined;
              if (s.nested) {
                try {
                  inner = await pool.acquire(s.nested, { owner: `o${o}` });
                } catch (err) {
                  assert.ok(err instanceof LockOrderError, String(err));
                  assert.ok(s.nested.some((n) => n <= (s.wants.slice().sort().at(-1) ?? "")));
                }
              }
              await clock.sleep(s.holdMs);
              inner?.release();
              hold.release();
            }
          };
          let finished = 0;
          const all = owners.map((script, o) => run(script, o).then(() => finished++));
          for (let t = 0; t < 2000 && finished < owners.length; t++) await clock.advance(10);
          assert.equal(
            finished,
            owners.length,
            `stuck: ${owners.length - finished} owners never finished`,
          );
          await Promise.all(all);
          assert.equal(pool.waiting, 0);
          assert.deepEqual(pool.holders(), []);
          return true;
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses, at once, a holder asking for a resource that sorts before one it holds", async () => {
    const pool = new SharedResources({}, manualClock());
    const hold = await pool.acquire(["b"], { owner: "run-1" });
    await assert.rejects(pool.acquire(["a"], { owner: "run-1" }), (err) => {
      assert.ok(isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT"));
      assert.match(err.message, /holds 'b' and asked for 'a'/);
      return true;
    });
    const more = await pool.acquire(["c"], { owner: "run-1" });
    more.release();
    hold.release();
  });

  it("times out with a typed error naming the holders", async () => {
    const clock = manualClock(0);
    const pool = new SharedResources({ capacities: { db: 2 } }, clock);
    const a = await pool.acquire([{ name: "db", units: 2 }], { owner: "run-a" });
    const waiting = pool.acquire(["db", "file"], { owner: "run-b", timeoutMs: 5000 });
    const checked = assert.rejects(waiting, (err) => {
      assert.ok(err instanceof ResourceTimeoutError);
      assert.ok(isFlotillaError(err, "FLOTILLA_TIMEOUT"));
      assert.deepEqual(err.holders, [{ resource: "db", owner: "run-a", units: 2, since: 0 }]);
      assert.match(err.message, /run-a holds db×2/);
      return true;
    });
    await clock.advance(4999);
    assert.equal(pool.waiting, 1);
    await clock.advance(1);
    await checked;
    assert.equal(pool.waiting, 0);
    a.release();
  });

  it("serves waiters first come, first served, so a big request is not starved by small ones", async () => {
    const pool = new SharedResources({ capacities: { db: 3 } }, manualClock());
    const first = await pool.acquire([{ name: "db", units: 2 }], { owner: "x" });
    const order: string[] = [];
    const big = pool.acquire([{ name: "db", units: 3 }], { owner: "big" }).then((h) => {
      order.push("big");
      return h;
    });
    const small = pool.acquire(["db"], { owner: "small" }).then((h) => {
      order.push("small");
      return h;
    });
    await flush();
    assert.deepEqual(order, [], "one unit is free, but 'big' asked first");
    first.release();
    (await big).release();
    (await small).release();
    assert.deepEqual(order, ["big", "small"]);
  });

  it("is cancellable: an aborted wait rejects with the reason and frees its place", async () => {
    const pool = new SharedResources({}, manualClock());
    const hold = await pool.acquire(["file"], { owner: "a" });
    const ac = new AbortController();
    const cancelled = pool.acquire(["file"], { owner: "b", signal: ac.signal });
    const next = pool.acquire(["file"], { owner: "c" });
    ac.abort(new Error("run cancelled"));
    await assert.rejects(cancelled, /run cancelled/);
    hold.release();
    (await next).release();
    assert.equal(pool.waiting, 0);
  });

  it("says what was wrong with a request", async () => {
    const pool = new SharedResources({ capacities: { db: 2 } }, manualClock());
    await assert.rejects(
      pool.acquire([{ name: "db", units: 3 }], { owner: "o" }),
      /'db' has 2 unit\(s\); o asked for 3/,
    );
    await assert.rejects(pool.acquire([], { owner: "o" }), /non-empty list/);
    assert.throws(() => new SharedResources({ timeoutMs: -1 }), /timeoutMs.*received -1/);
  });
});
