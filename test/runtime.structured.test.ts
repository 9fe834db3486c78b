import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flotilla, type RunContext } from "../src/index.js";
import { tempStore } from "./helpers/tempStore.js";

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    });
  });

/**
 * ctx.all keeps its word for children: when one branch fails, the children
 * its siblings spawned are cancelled and awaited, so nothing they would have
 * done happens after the parent has moved on.
 */
describe("structured concurrency: ctx.all with spawned children", () => {
  for (const form of ["promises", "branches"] as const) {
    it(`a failing child cancels and awaits its sibling (${form})`, async () => {
      const f = await Flotilla.open({
        store: tempStore(),
        worker: { pollMs: 10, concurrency: 4 },
        stopGraceMs: 2_000,
      });
      try {
        const sent: string[] = [];
        const think = f.tool("slow.think", {
          effect: "read",
          run: async (_a: null, c) => {
            await pause(600, c.signal);
            return "thought";
          },
        });
        const send = f.tool("mail.send", {
          effect: "idempotent",
          run: (a: { to: string }) => {
            sent.push(a.to);
            return Promise.resolve("sent");
          },
        });
        const slow = f.agent(`slow-${form}`, async (ctx) => {
          await ctx.call(think, null);
          return ctx.call(send, { to: "customer@example.com" });
        });
        const failing = f.agent(`failing-${form}`, async () => {
          await pause(50);
          throw new Error("the lookup failed");
        });
        const parent = f.agent(`parent-${form}`, async (ctx: RunContext) =>
          form === "promises"
            ? ctx.all([ctx.spawn(slow, null), ctx.spawn(failing, null)])
            : ctx.all([(c) => c.spawn(slow, null), (c) => c.spawn(failing, null)]),
        );
        const run = await f.start(parent, null);
        await assert.rejects(run.result({ timeoutMs: 20_000 }), /the lookup failed/);
        const children = (await f.store.listRuns({})).filter((r) => r.parentId === run.id);
        const sibling = children.find((r) => r.agent === `slow-${form}`);
        assert.equal(sibling?.status, "cancelled", "the sibling settled before the parent did");
        await pause(1_000);
        assert.deepEqual(sent, [], "the sibling sent nothing, then or later");
      } finally {
        await f.close();
      }
    });
  }
});

describe("structured concurrency: ctx.all with plain step promises", () => {
  it("a failing step stops its sibling tool and waits for it before throwing", async () => {
    const f = await Flotilla.open({
      store: tempStore(),
      worker: { pollMs: 10, concurrency: 4 },
      stopGraceMs: 2_000,
    });
    try {
      const order: string[] = [];
      const sent: string[] = [];
      const slow = f.tool("slow.send", {
        effect: "idempotent",
        run: async (a: { to: string }, c) => {
          try {
            await pause(3_000, c.signal);
            sent.push(a.to);
            return "sent";
          } finally {
            order.push("sibling settled");
          }
        },
      });
      const lookup = f.tool("lookup", {
        effect: "read",
        run: async () => {
          await pause(50);
          throw new Error("the lookup failed");
        },
        classify: () => ({ retryable: false }),
      });
      const agent = f.agent("plain-steps", async (ctx: RunContext) => {
        try {
          return await ctx.all([ctx.call(slow, { to: "customer" }), ctx.call(lookup, null)]);
        } finally {
          order.push("all settled");
        }
      });
      const run = await f.start(agent, null);
      await assert.rejects(run.result({ timeoutMs: 20_000 }), /the lookup failed/);
      assert.deepEqual(order, ["sibling settled", "all settled"]);
      await pause(500);
      assert.deepEqual(sent, [], "the sibling was stopped, not left to act");
    } finally {
      await f.close();
    }
  });
});
