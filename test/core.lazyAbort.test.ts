import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { LazyLinkedAbort, linkedAbort } from "../src/core/abort.js";

type Op =
  | { op: "parent"; reason: number | undefined }
  | { op: "abort"; reason: number | undefined }
  | { op: "read" }
  | { op: "signal" }
  | { op: "dispose" };

const reason = fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("parent" as const), reason }),
  fc.record({ op: fc.constant("abort" as const), reason }),
  fc.constant({ op: "read" as const }),
  fc.constant({ op: "signal" as const }),
  fc.constant({ op: "dispose" as const }),
);

/** What a reader sees: an AbortError made for a missing reason is compared by name. */
function seen(s: { aborted: boolean; reason: unknown }): unknown {
  const r = s.reason;
  return { aborted: s.aborted, reason: r instanceof Error ? r.name : r };
}

describe("LazyLinkedAbort", () => {
  it("reads as linkedAbort's controller would, whenever its signal is made", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const parentA = new AbortController();
        const parentB = new AbortController();
        const eager = linkedAbort(parentA.signal);
        const lazy = new LazyLinkedAbort(parentB.signal);
        let disposed = false;
        for (const o of ops) {
          if (o.op === "parent") {
            parentA.abort(o.reason);
            parentB.abort(o.reason);
          } else if (o.op === "abort") {
            eager.controller.abort(o.reason);
            lazy.abort(o.reason);
          } else if (o.op === "dispose" && !disposed) {
            disposed = true;
            eager.dispose();
            lazy.dispose();
          } else if (o.op === "signal") {
            assert.deepEqual(seen(lazy.signal), seen(eager.controller.signal));
          }
          assert.deepEqual(seen(lazy), seen(eager.controller.signal));
        }
        assert.deepEqual(seen(lazy.signal), seen(eager.controller.signal));
        // Aborts after the signal is made reach it as they reach the eager one.
        parentA.abort(9);
        parentB.abort(9);
        eager.controller.abort(8);
        lazy.abort(8);
        assert.deepEqual(seen(lazy.signal), seen(eager.controller.signal));
      }),
    );
  });

  it("makes one signal, and fires its abort event", () => {
    const parent = new AbortController();
    const lazy = new LazyLinkedAbort(parent.signal);
    const signal = lazy.signal;
    assert.equal(lazy.signal, signal);
    let fired = 0;
    signal.addEventListener("abort", () => fired++);
    parent.abort("stop");
    assert.equal(fired, 1);
    assert.equal(signal.reason, "stop");
  });
});
