import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Flotilla } from "../src/index.js";
import type { Admission, AdmissionRequest } from "../src/fleet/types.js";

describe("tools that declare rate limits", () => {
  it("are admitted by the fleet scheduler on every attempt; other tools are not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-adm-"));
    const asked: AdmissionRequest[] = [];
    const released: string[] = [];
    const admission: Admission = {
      acquire: (request) => {
        asked.push(request);
        return Promise.resolve({ waitedMs: 0, release: (r) => void released.push(r.outcome) });
      },
    };
    const f = await Flotilla.open({ store: join(dir, "a.db"), admission, worker: { pollMs: 10 } });
    try {
      let calls = 0;
      const limited = f.tool("crm.search", {
        effect: "read",
        rateLimited: true,
        run: async () => {
          if (++calls === 1) throw Object.assign(new Error("slow down"), { status: 429 });
          return calls;
        },
      });
      const free = f.tool("clock.read", { effect: "read", run: async () => 0 });
      const agent = f.agent("a", async (ctx) => [
        await ctx.call(limited, {}),
        await ctx.call(free, {}),
      ]);
      const run = await f.start(agent, null, { tenant: "acme" });
      assert.deepEqual(await run.result({ timeoutMs: 10_000 }), [2, 0]);
      assert.deepEqual(
        asked.map((r) => [r.dependency, r.tenant]),
        [
          ["tool:crm.search", "acme"],
          ["tool:crm.search", "acme"],
        ],
      );
      assert.deepEqual(released, ["rate_limited", "ok"]);
    } finally {
      await f.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
