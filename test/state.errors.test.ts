import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla, isFlotillaError, region, regionState } from "../src/index.js";
import type { ErrorCode } from "../src/core/errors.js";
import { tempStore } from "./helpers/tempStore.js";

/** Bad input to ctx.state and region(): typed errors, never a crash, nothing written. */

const code = (code: ErrorCode, field?: string) => (err: unknown) => {
  assert.ok(isFlotillaError(err, code), `expected ${code}, got ${String(err)}`);
  if (field) assert.match(err.message, new RegExp(field.replace(/[.[\]]/g, "\\$&")));
  return true;
};

describe("region declarations", () => {
  it("refuses bad specs, naming the field and what was received", () => {
    const bad: [string, unknown, string][] = [
      ["e.iso", { isolation: "queue" }, "isolation"],
      ["e.sum", { isolation: "findings", reducer: "sum" }, "reducer"],
      ["e.none", { isolation: "findings" }, "reducer"],
      ["e.doc", { isolation: "doc", reducer: "counter" }, "reducer"],
      ["e.att", { isolation: "doc", maxAttempts: 0 }, "maxAttempts"],
      ["e.lease", { isolation: "claim", leaseMs: -5 }, "leaseMs"],
      ["e.custom", { isolation: "findings", reducer: { reduce: () => 1 } }, "reducer"],
      ["e.merge", { isolation: "doc", merge: "theirs" }, "merge"],
    ];
    for (const [name, spec, field] of bad)
      assert.throws(
        () => region(name, spec as never),
        code("FLOTILLA_INVALID_ARGUMENT", field),
        `${name} should be refused`,
      );
    assert.throws(() => region("", { isolation: "scratch" }), code("FLOTILLA_INVALID_ARGUMENT"));
    assert.throws(() => region("a b", { isolation: "scratch" }), code("FLOTILLA_INVALID_ARGUMENT"));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(
      () => region(cyclic as never, { isolation: "scratch" }),
      code("FLOTILLA_INVALID_ARGUMENT"),
    );
  });

  it("refuses one name declared with two reducers, and accepts the same declaration twice", () => {
    region("e.twice", { isolation: "findings", reducer: "counter" });
    region("e.twice", { isolation: "findings", reducer: "counter" });
    assert.throws(
      () => region("e.twice", { isolation: "findings", reducer: "append" }),
      code("FLOTILLA_STATE_REGION_MISMATCH"),
    );
    assert.throws(
      () => region("e.twice", { isolation: "doc" }),
      code("FLOTILLA_STATE_REGION_MISMATCH"),
    );
  });
});

describe("ctx.state bad input", () => {
  const counts = region("e.counts", { isolation: "findings", reducer: "counter" });
  const set = region("e.set", { isolation: "findings", reducer: "union" });
  const doc = region("e.doc.ok", { isolation: "doc" });
  const queue = region("e.queue", { isolation: "claim" });
  const boom = region("e.boom", {
    isolation: "findings",
    reducer: {
      name: "boom",
      reduce: (current, input) => {
        if (input === "throw") throw new Error("cannot merge that");
        return input === "nan" ? Number.NaN : ((current as number | undefined) ?? 0) + 1;
      },
    },
  });

  it("answers every mistake with a typed error, and writes nothing for it", async () => {
    const f = await Flotilla.open({ store: tempStore(), worker: { pollMs: 20 } });
    try {
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      const attempts: [string, (ctx: import("../src/index.js").RunContext) => Promise<unknown>][] =
        [
          ["FLOTILLA_STATE_UNKNOWN_REGION", async (ctx) => ctx.state("e.nope").read("k")],
          [
            "FLOTILLA_INVALID_ARGUMENT",
            async (ctx) => ctx.state(42 as unknown as string).read("k"),
          ],
          [
            "FLOTILLA_STATE_WRONG_ISOLATION",
            (ctx) => (ctx.state("e.counts") as never as { take(): Promise<unknown> }).take(),
          ],
          ["FLOTILLA_STATE_WRONG_ISOLATION", (ctx) => ctx.state("e.queue").write("k", 1)],
          ["FLOTILLA_STATE_WRONG_ISOLATION", (ctx) => ctx.state("e.counts").update("k", () => 1)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(counts).write("k", "1")],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(counts).write("k", Number.NaN)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(counts).write("k", Infinity)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(set).write("k", "not-an-array")],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(set).write("k", [undefined] as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(set).write("k", [new Date()] as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(set).write("k", [new Map()] as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(set).write("k", [() => 1] as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(set).write("k", [cycle] as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(set).write("k", [10n] as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(counts).write("", 1)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(counts).write("a\0b", 1)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(counts).write("x".repeat(2000), 1)],
          [
            "FLOTILLA_INVALID_ARGUMENT",
            (ctx) => ctx.state(counts).write("k", 1, { verified: "yes" as never }),
          ],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(doc).write("k", { a: 1 }, {} as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(doc).update("k", "x" as never)],
          [
            "FLOTILLA_INVALID_ARGUMENT",
            (ctx) => ctx.state(doc).update("k", () => ({ at: new Date() }) as never),
          ],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(queue).put([{ id: "", value: 1 }])],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(queue).put("items" as never)],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(queue).take({ leaseMs: 0 })],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(counts).watch("k", { after: -1 })],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(boom).write("k", "throw")],
          ["FLOTILLA_INVALID_ARGUMENT", (ctx) => ctx.state(boom).write("k", "nan")],
          ["FLOTILLA_CLAIM_LOST", (ctx) => ctx.state(queue).done("never-put")],
        ];
      const agent = f.agent("e.agent", async (ctx) => {
        const seen: string[] = [];
        for (const [, attempt] of attempts) {
          try {
            await attempt(ctx);
            seen.push("no error");
          } catch (err) {
            seen.push(isFlotillaError(err) ? err.code : `untyped: ${String(err)}`);
          }
        }
        await ctx.state(boom).write("k", "fine");
        return seen;
      });
      const run = await f.start(agent, null);
      const seen = await run.result({ timeoutMs: 10_000 });
      assert.deepEqual(
        seen,
        attempts.map(([c]) => c),
      );
      const outside = regionState(f, counts);
      assert.equal(await outside.read("k"), null);
      assert.equal(
        (await regionState(f, boom).read("k"))?.value,
        1,
        "a failed reducer wrote nothing",
      );
      assert.equal((await regionState(f, set).history("k")).length, 0);
    } finally {
      await f.close();
    }
  });

  it("refuses a region the store knows with another reducer (another worker's code)", async () => {
    const f = await Flotilla.open({ store: tempStore(), worker: { pollMs: 20 } });
    try {
      await f.store.declareStateRegion({
        name: "e.shared",
        isolation: "findings",
        reducer: "append",
      });
      const mine = region("e.shared", { isolation: "findings", reducer: "counter" });
      const agent = f.agent("e.mismatch", async (ctx) => {
        try {
          await ctx.state(mine).write("k", 1);
          return "written";
        } catch (err) {
          return isFlotillaError(err) ? err.code : "untyped";
        }
      });
      assert.equal(
        await (await f.start(agent, null)).result({ timeoutMs: 10_000 }),
        "FLOTILLA_STATE_REGION_MISMATCH",
      );
      await assert.rejects(
        regionState(f, mine).write("k", 1),
        code("FLOTILLA_STATE_REGION_MISMATCH"),
      );
    } finally {
      await f.close();
    }
  });
});
