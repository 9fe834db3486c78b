import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
import { Flotilla } from "../src/index.js";
import { workerWait } from "../src/operator/workerWait.js";
import { sourceVersion } from "../src/runtime/Agent.js";
import type { RunContext } from "../src/runtime/RunContext.js";
import { tempStore } from "./helpers/tempStore.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quick = { worker: { pollMs: 20 }, inlineWaitMs: 10 };

/** Opens a Flotilla on `path`, lets `define` add its agents, runs `fn`, and always closes it. */
async function withFlotilla<T>(
  path: string,
  fn: (f: Flotilla) => Promise<T>,
  options: { worker?: false } = {},
): Promise<T> {
  const f = await Flotilla.open({ store: path, ...quick, ...options });
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}

/** Journals a read of `first`, then waits for a "go" signal (the run suspends and its worker is free). */
function deployAgent(
  f: Flotilla,
  first: string,
  options: { version?: string; compatibleWith?: string[] },
) {
  const a = f.tool("a", { effect: "read", run: () => Promise.resolve("a") });
  const b = f.tool("b", { effect: "read", run: () => Promise.resolve("b") });
  const tools = { a, b };
  return f.agent(
    "deploy",
    async (ctx: RunContext) => {
      await ctx.call(tools[first as "a" | "b"], null);
      await ctx.waitFor("go");
      return `done by ${options.version ?? "?"}`;
    },
    options,
  );
}

/** Starts a deploy run at version 1 and leaves it suspended on its signal. */
async function suspendedAtV1(path: string): Promise<string> {
  return withFlotilla(path, async (f) => {
    const agent = deployAgent(f, "a", { version: "1" });
    const run = await f.start(agent, null);
    while ((await run.status()).status !== "waiting") await pause(10);
    return run.id;
  });
}

describe("agent versions", () => {
  it("resumes a run only at a version that accepts the one that executed it", async () => {
    const path = tempStore();
    const runId = await suspendedAtV1(path);
    await withFlotilla(path, async (f) => {
      const resumed = (await f.store.readJournal(runId)).find((e) => e.type === "run.resumed");
      assert.equal((resumed?.data as { agentVersion?: string }).agentVersion, "1");
      deployAgent(f, "a", { version: "2" });
      const worker = await f.worker();
      assert.deepEqual(await worker.otherVersionsAtStart, [
        { agent: "deploy", version: "1", workerVersion: "2", count: 1 },
      ]);
      await f.signal(runId, "go");
      // Give the version-2 worker every chance to claim it (it polls every 20 ms); it must not.
      await pause(300);
      const run = await f.getRun(runId);
      assert.equal(run.status, "pending");
      assert.equal(run.agentVersion, "1");
      assert.equal(
        workerWait(run, await f.store.liveWorkerAgents())?.message,
        "waiting for a worker with agent 'deploy' version 1: live workers run it at version 2",
      );
    });
    const result = await withFlotilla(path, async (f) => {
      deployAgent(f, "a", { version: "2", compatibleWith: ["1"] });
      await f.worker();
      const out = await f.handle<string>(runId).result({ timeoutMs: 10_000 });
      assert.equal((await f.getRun(runId)).agentVersion, "2");
      return out;
    });
    assert.equal(result, "done by 2");
  });

  it("names the step, both kinds, and both versions when a changed agent replays an old journal", async () => {
    const path = tempStore();
    const runId = await suspendedAtV1(path);
    await withFlotilla(path, async (f) => {
      // Version 2 calls tool b first, and claims (wrongly) to replay version 1's journals.
      deployAgent(f, "b", { version: "2", compatibleWith: ["1"] });
      await f.worker();
      await f.signal(runId, "go");
      await assert.rejects(f.handle(runId).result({ timeoutMs: 10_000 }), (err) => {
        assert.ok(isFlotillaError(err, "FLOTILLA_RUN_FAILED"));
        const cause = (err.details.error as { code: string; message: string }) ?? {};
        assert.equal(cause.code, "FLOTILLA_NONDETERMINISM");
        assert.match(cause.message, /expected tool 'a' \(journaled\), got tool 'b'/);
        assert.match(
          cause.message,
          /journaled by agent 'deploy' version 1, this worker runs version 2/,
        );
        assert.match(cause.message, /change to the agent's code between the run's start and now/);
        return true;
      });
    });
  });

  it("defaults to a hash of the function's source, and records children's versions", async () => {
    const path = tempStore();
    await withFlotilla(path, async (f) => {
      const child = f.agent("child", (_ctx, n: number) => Promise.resolve(n + 1), {
        version: "c1",
      });
      const parent = f.agent("parent", (ctx, n: number) => ctx.spawn(child, n));
      assert.match(parent.version, /^src:[0-9a-f]{12}$/);
      assert.deepEqual(parent.accepts, [parent.version]);
      const run = await f.start(parent, 1);
      assert.equal(await run.result({ timeoutMs: 10_000 }), 2);
      assert.equal((await run.status()).agentVersion, parent.version);
      const [spawned] = await f.store.listRuns({ parentId: run.id });
      assert.equal(spawned?.agentVersion, "c1");
    });
    // The same source gives the same version; another source, another.
    const one = (n: number) => Promise.resolve(n);
    const same = (n: number) => Promise.resolve(n);
    const other = (n: number) => Promise.resolve(n + 1);
    assert.equal(sourceVersion(one), sourceVersion(same));
    assert.notEqual(sourceVersion(one), sourceVersion(other));
  });

  it("refuses a version or a compatible version that is not one, naming the field", async () => {
    await withFlotilla(
      tempStore(),
      (f) => {
        const noop = () => Promise.resolve(null);
        assert.throws(
          () => f.agent("bad1", noop, { version: "v 2" }),
          (err) =>
            isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") &&
            /agent 'bad1'\.version/.test(err.message),
        );
        assert.throws(
          () => f.agent("bad2", noop, { version: "2", compatibleWith: ["src:nothex"] }),
          (err) =>
            isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") &&
            /agent 'bad2'\.compatibleWith\.0/.test(err.message),
        );
        return Promise.resolve();
      },
      { worker: false },
    );
  });
});
