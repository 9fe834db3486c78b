import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla } from "../src/index.js";
import { cliArgs } from "./helpers/cli.js";

const root = join(import.meta.dirname, "..");
const skip = await postgresSkipReason();

/** Resolves once the worker has announced itself on stderr; rejects if it exits first. */
function announced(child: ChildProcess, stderr: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr.text += chunk.toString();
      if (stderr.text.includes("flotilla worker ")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`worker exited ${code}: ${stderr.text}`)));
  });
}

describe("flotilla worker", { skip }, () => {
  let db: { url: string; drop: () => Promise<void> };
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it("runs a module's agents for runs started by another process, and stops cleanly on SIGTERM", async () => {
    const stderr = { text: "" };
    const child = spawn(
      process.execPath,
      [...cliArgs, "worker", join(root, "test", "fixtures", "worker-module.ts"), "--store", db.url],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await announced(child, stderr);
      const client = await Flotilla.open({ store: db.url, worker: false });
      const agent = client.agent(
        "worker.double",
        async (): Promise<{ doubled: number; pid: number }> => {
          throw new Error("this process has no worker: the run must not execute here");
        },
      );
      const runs = await Promise.all([1, 2, 3, 4, 5].map((x) => client.start(agent, x)));
      const results = await Promise.all(runs.map((r) => r.result({ timeoutMs: 20_000 })));
      assert.deepEqual(
        results.map((r) => r.doubled),
        [2, 4, 6, 8, 10],
      );
      for (const r of results) assert.equal(r.pid, child.pid);
      await client.close();
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr.text);
    assert.match(stderr.text, /stopping: finishing runs in progress/);
  });
});

describe("flotilla worker, bad input", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "flotilla-worker-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `flotilla worker` expecting a refusal: non-zero exit, one line on stderr. */
  function refusal(module: string, ...flags: string[]): string {
    const r = spawnSync(
      process.execPath,
      [...cliArgs, "worker", module, "--store", join(dir, "f.db"), ...flags],
      { encoding: "utf8" },
    );
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    return r.stderr;
  }

  it("refuses a module without setup(flotilla) with one line on stderr", () => {
    const stderr = refusal(join(root, "test", "helpers", "fakeClock.ts"));
    assert.match(stderr, /must export a function setup\(flotilla\)/);
  });

  it("refuses a concurrency that is not a positive integer, naming the option", () => {
    const stderr = refusal(
      join(root, "test", "fixtures", "worker-module.ts"),
      "--concurrency",
      "lots",
    );
    assert.match(stderr, /--concurrency must be a positive integer, received 'lots'/);
  });
});
