import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import fc from "fast-check";
import { LazyLinkedAbort, linkedAbort } from "../src/core/abort.js";
import { abortAfter } from "../src/core/timers.js";

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

  it("under a lazy parent, reads as a chain of linked controllers would", () => {
    type ChainOp =
      | { op: "root" | "parent" | "child"; reason: number | undefined }
      | { op: "disposeParent" | "disposeChild" | "readParent" | "readChild" };
    const chainOp: fc.Arbitrary<ChainOp> = fc.oneof(
      fc.record({
        op: fc.constantFrom("root" as const, "parent" as const, "child" as const),
        reason,
      }),
      fc.record({
        op: fc.constantFrom(
          "disposeParent" as const,
          "disposeChild" as const,
          "readParent" as const,
          "readChild" as const,
        ),
      }),
    );
    fc.assert(
      fc.property(fc.array(chainOp, { maxLength: 14 }), (ops) => {
        const rootA = new AbortController();
        const rootB = new AbortController();
        const eagerParent = linkedAbort(rootA.signal);
        const eagerChild = linkedAbort(eagerParent.controller.signal);
        const lazyParent = new LazyLinkedAbort(rootB.signal);
        const lazyChild = new LazyLinkedAbort(lazyParent);
        const disposed = { parent: false, child: false };
        for (const o of ops) {
          if (o.op === "root") {
            rootA.abort(o.reason);
            rootB.abort(o.reason);
          } else if (o.op === "parent") {
            eagerParent.controller.abort(o.reason);
            lazyParent.abort(o.reason);
          } else if (o.op === "child") {
            eagerChild.controller.abort(o.reason);
            lazyChild.abort(o.reason);
          } else if (o.op === "disposeParent" && !disposed.parent) {
            disposed.parent = true;
            eagerParent.dispose();
            lazyParent.dispose();
          } else if (o.op === "disposeChild" && !disposed.child) {
            disposed.child = true;
            eagerChild.dispose();
            lazyChild.dispose();
          } else if (o.op === "readParent") {
            assert.deepEqual(seen(lazyParent.signal), seen(eagerParent.controller.signal));
          } else if (o.op === "readChild") {
            assert.deepEqual(seen(lazyChild.signal), seen(eagerChild.controller.signal));
          }
          assert.deepEqual(seen(lazyParent), seen(eagerParent.controller.signal));
          assert.deepEqual(seen(lazyChild), seen(eagerChild.controller.signal));
        }
        // Aborts after the signals are made reach them as they reach the eager ones.
        assert.deepEqual(seen(lazyChild.signal), seen(eagerChild.controller.signal));
        rootA.abort(9);
        rootB.abort(9);
        assert.deepEqual(seen(lazyParent.signal), seen(eagerParent.controller.signal));
        assert.deepEqual(seen(lazyChild.signal), seen(eagerChild.controller.signal));
      }),
    );
  });
});

describe("abortAfter", () => {
  type DeadlineOp =
    { op: "parent"; reason: number | undefined } | { op: "signal" | "dispose" | "expire" };
  const deadlineOp: fc.Arbitrary<DeadlineOp> = fc.oneof(
    fc.record({ op: fc.constant("parent" as const), reason }),
    fc.record({ op: fc.constantFrom("signal" as const, "dispose" as const, "expire" as const) }),
  );

  it("reads as an eagerly linked, timed controller would, whenever its signal is made", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"] });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(deadlineOp, { maxLength: 10 }), async (ops) => {
          const parentA = new AbortController();
          const parentB = new AbortController();
          // The model: a controller linked at once, aborted by its own timer.
          const eager = linkedAbort(parentA.signal);
          let eagerTimeout: string | undefined;
          const timer = setTimeout(() => {
            eagerTimeout = "TimeoutError";
            eager.controller.abort(new DOMException("late", "TimeoutError"));
          }, 100);
          const lazy = abortAfter(parentB.signal, 100);
          let expired: string | undefined;
          lazy.expired.catch((err: unknown) => (expired = (err as Error).name));
          let disposed = false;
          for (const o of ops) {
            if (o.op === "parent") {
              parentA.abort(o.reason);
              parentB.abort(o.reason);
            } else if (o.op === "dispose" && !disposed) {
              disposed = true;
              eager.dispose();
              clearTimeout(timer);
              lazy.dispose();
            } else if (o.op === "expire") {
              mock.timers.tick(100);
              await new Promise(setImmediate);
            } else if (o.op === "signal") {
              assert.deepEqual(seen(lazy.signal), seen(eager.controller.signal));
            }
            assert.deepEqual(seen(lazy), seen(eager.controller.signal));
            assert.equal(lazy.timeout?.name, eagerTimeout);
            // The deadline holds for work that ignores the signal: `expired` rejects with the timeout.
            assert.equal(expired, eagerTimeout);
          }
          assert.deepEqual(seen(lazy.signal), seen(eager.controller.signal));
          eager.dispose();
          clearTimeout(timer);
          lazy.dispose();
        }),
      );
    } finally {
      mock.timers.reset();
    }
  });

  it("fires the abort event of a signal made before the deadline", () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"] });
    try {
      const deadline = abortAfter(new AbortController().signal, 50);
      let fired = 0;
      deadline.signal.addEventListener("abort", () => fired++);
      mock.timers.tick(50);
      assert.equal(fired, 1);
      assert.equal(deadline.signal.reason, deadline.timeout);
      deadline.dispose();
    } finally {
      mock.timers.reset();
    }
  });
});
