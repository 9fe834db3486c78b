import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Counter, Registry } from "prom-client";
import { PairCounts } from "../src/telemetry/metrics/PairCounts.js";

type Op = { op: "inc"; tool: string; outcome: string } | { op: "scrape" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("inc" as const),
    tool: fc.constantFrom("lookup", "refund", "mail:send"),
    outcome: fc.constantFrom("ok", "error", "committed"),
  }),
  fc.constant({ op: "scrape" as const }),
);

describe("PairCounts", () => {
  it("scrapes exactly as counting each call on the counter would, series order included", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const direct = new Registry();
        const counter = new Counter({
          name: "calls_total",
          help: "calls",
          labelNames: ["tool", "outcome"] as const,
          registers: [direct],
        });
        const tallied = new Registry();
        const counts = new PairCounts("tool", "outcome");
        const collected: Counter<"tool" | "outcome"> = new Counter({
          name: "calls_total",
          help: "calls",
          labelNames: ["tool", "outcome"] as const,
          registers: [tallied],
          collect: (): void => counts.addTo(collected),
        });
        for (const o of [...ops, { op: "scrape" as const }]) {
          if (o.op === "inc") {
            counter.inc({ tool: o.tool, outcome: o.outcome });
            counts.inc(o.tool, o.outcome);
          } else assert.equal(await tallied.metrics(), await direct.metrics());
        }
      }),
    );
  });
});
