import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { canonicalJson, type Json } from "../src/core/json.js";
import { BUILTINS } from "../src/state/reducers.js";

/**
 * Concurrent writers reach a key's row lock in no particular order: the
 * merge must not depend on it (counter, union as a set, max, min), and
 * append must keep every write exactly once whatever the order.
 */

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
process.stderr.write(`# state.reducers property seed: ${seed}\n`);

const fold = (reducer: keyof typeof BUILTINS, inputs: Json[]) =>
  inputs.reduce<Json | undefined>((cur, input) => BUILTINS[reducer].reduce(cur, input), undefined);

const json: fc.Arbitrary<Json> = fc.jsonValue() as fc.Arbitrary<Json>;
const sorted = (xs: Json[]) => xs.map((x) => canonicalJson(x)).sort();

describe("built-in reducers", () => {
  it("counter, max and min do not depend on the order writes arrive in", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 40 })
          .chain((xs) =>
            fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length })),
          ),
        ([xs, shuffled]) => {
          for (const r of ["counter", "max", "min"] as const)
            assert.equal(fold(r, shuffled), fold(r, xs), r);
          assert.equal(
            fold("counter", xs),
            xs.reduce((a, b) => a + b, 0),
          );
          assert.equal(fold("max", xs), Math.max(...xs));
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it("union holds each distinct element once, the same set in any order", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.array(json, { maxLength: 4 }), { minLength: 1, maxLength: 12 })
          .chain((xs) =>
            fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length })),
          ),
        ([writes, shuffled]) => {
          const a = fold("union", writes) as Json[];
          const b = fold("union", shuffled) as Json[];
          assert.deepEqual(sorted(a), sorted(b));
          assert.deepEqual(
            sorted(a),
            [...new Set(writes.flat().map((x) => canonicalJson(x)))].sort(),
          );
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it("append keeps every write exactly once, in arrival order", () => {
    fc.assert(
      fc.property(fc.array(json, { maxLength: 30 }), (writes) => {
        assert.deepEqual(fold("append", writes) ?? [], writes);
      }),
      { seed, numRuns: 200 },
    );
  });
});
