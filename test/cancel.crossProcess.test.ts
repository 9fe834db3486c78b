import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import { tempStore } from "./helpers/tempStore.js";

const pgSkip = await postgresSkipReason();

/**
 * A cancel requested through another connection (another process: the CLI,
 * an operator's service) reaches the tool of the run it cancels through the
 * store's own notification, not at the worker's next lease renewal: here the
 * lease is renewed every 40 s, and the tool must see the abort long before.
 */
describe("cancel from another connection reaches the running tool", () => {
  for (const kind of ["sqlite", "postgres"] as const) {
    it(
      `${kind}: the tool is aborted and the run ends cancelled`,
      { skip: kind === "postgres" && pgSkip ? pgSkip : false },
      async () => {
        const db = kind === "postgres" ? await freshDatabase() : undefined;
        const url = db?.url ?? tempStore();
        const f = await Flotilla.open({ store: url, worker: { pollMs: 20, leaseMs: 120_000 } });
        const other = await openStore(url);
        try {
          let started!: () => void;
          const running = new Promise<void>((resolve) => (started = resolve));
          let aborted!: () => void;
          const abort = new Promise<void>((resolve) => (aborted = resolve));
          const wait = f.tool("slow.report", {
            effect: "read",
            run: (_a: null, c) =>
              new Promise<never>((_, reject) => {
                started();
                c.signal.addEventListener("abort", () => {
                  aborted();
                  reject(new Error("aborted"));
                });
              }),
          });
          const agent = f.agent(`${kind}.cancelled`, async (ctx) => ctx.call(wait, null));
          const run = await f.start(agent, null);
          await running;
          await other.requestCancel(run.id, "an operator elsewhere");
          const heard = await Promise.race([
            abort.then(() => true),
            new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
          ]);
          assert.ok(heard, "the tool was aborted well before the next lease renewal");
          await assert.rejects(run.result({ timeoutMs: 20_000 }));
          assert.equal((await f.getRun(run.id)).status, "cancelled");
        } finally {
          await other.close();
          await f.close();
          await db?.drop();
        }
      },
    );
  }
});
