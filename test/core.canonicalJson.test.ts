import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { canonicalJson } from "../src/core/json.js";

/** The definition canonicalJson's fast path must agree with: JSON.stringify, plain objects rebuilt with sorted keys. */
function byReplacer(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v) || Buffer.isBuffer(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** Keys that a rebuilt object orders or keeps differently from their sorted order. */
const awkwardKey = fc.constantFrom(
  "0",
  "10",
  "9",
  "-1",
  "1.5",
  "__proto__",
  "",
  "a\u0000",
  "é",
  "Z",
);

const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string(),
    fc.constantFrom(undefined, -0, NaN, Infinity, "\ud800"),
    fc.date({ noInvalidDate: true }),
  ),
  node: fc.oneof({ depthSize: "small" }, tie("leaf"), tie("array"), tie("object")),
  array: fc.array(tie("node"), { maxLength: 4 }),
  object: fc
    .array(fc.tuple(fc.oneof(fc.string({ maxLength: 3 }), awkwardKey), tie("node")), {
      maxLength: 4,
    })
    .map((entries) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of entries)
        Object.defineProperty(o, k, {
          value: v,
          enumerable: true,
          configurable: true,
          writable: true,
        });
      return o;
    }),
}));

describe("canonicalJson", () => {
  it("gives exactly the replacer definition's text for any value", () => {
    fc.assert(
      fc.property(value.node, (v) => {
        assert.equal(canonicalJson(v), byReplacer(v));
        // What the journal holds after a round trip (own __proto__ keys included) too.
        const parsed: unknown = JSON.parse(JSON.stringify(v) ?? "null");
        assert.equal(canonicalJson(parsed), byReplacer(parsed));
      }),
      { numRuns: 3000 },
    );
  });

  it("sorts keys at every depth and keeps arrays in order", () => {
    assert.equal(
      canonicalJson({ b: [3, { d: 1, c: 2 }], a: "x" }),
      '{"a":"x","b":[3,{"c":2,"d":1}]}',
    );
  });

  it("takes the general path past its depth and for a cycle", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = { k: deep };
    assert.equal(canonicalJson(deep), byReplacer(deep));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    // The rebuilt objects hide a cycle from JSON.stringify: both paths overflow the stack.
    assert.throws(() => byReplacer(cycle), RangeError);
    assert.throws(() => canonicalJson(cycle), RangeError);
    assert.equal(canonicalJson(undefined), undefined);
    assert.equal(canonicalJson(new Map([[1, 2]])), "{}");
    assert.equal(canonicalJson(Buffer.from("a")), byReplacer(Buffer.from("a")));
  });
});
