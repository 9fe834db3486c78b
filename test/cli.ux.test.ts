import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { Flotilla, isFlotillaError } from "../src/index.js";
import { cli, cliArgs, cliWithEnv } from "./helpers/cli.js";
import { installCli, type InstalledCli } from "./helpers/installedCli.js";

/* Issue 18, a new user's CLI problems: each is checked the way the user met it. */

const skip = await postgresSkipReason();
const src = (path: string) => new URL(`../src/${path}`, import.meta.url).href;

/** A process whose output is collected, with a way to wait for what it says. */
function watch(child: ChildProcess) {
  const out = { stdout: "", stderr: "" };
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const waiters = new Set<() => void>();
  const seen = () => waiters.forEach((w) => w());
  child.stdout?.on("data", (d: Buffer) => ((out.stdout += d.toString()), seen()));
  child.stderr?.on("data", (d: Buffer) => ((out.stderr += d.toString()), seen()));
  /**
   * Resolves once `ok(out)` holds; rejects if the process exits first, or
   * once it has said nothing that satisfies `ok` for a minute (so the test's
   * finally still stops the process: a failure, not a hang).
   */
  const until = (ok: (o: typeof out) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const fail = (why: string) => () => reject(new Error(`${why}: ${out.stdout}${out.stderr}`));
      const timer = setTimeout(fail("never said it"), 60_000);
      const check = () => {
        if (!ok(out)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      waiters.add(check);
      void exited.then(fail("exited first"));
      check();
    });
  const lines = () =>
    out.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { out, exited, until, lines };
}

/** True until the process is gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A worker module (plain JavaScript): an agent per way a run can end badly, and its LLM provider. */
const WORKER_MODULE = `
import { ToolRejectedError } from ${JSON.stringify(src("index.ts"))};
export function setup(flotilla) {
  // Registered only when asked: without it ctx.llm has no provider.
  if (process.env.UX_PROVIDER === "1") flotilla.registerProvider("default", {
    name: "echo",
    complete: async (req) => ({ message: { role: "assistant", content: "echo" },
      usage: { inputTokens: 1, outputTokens: 1 }, model: req.model, finishReason: "stop" }),
  });
  const charge = flotilla.tool("ux.charge", { effect: "irreversible",
    run: async () => { throw new Error("connection reset by peer"); } });
  const hang = flotilla.tool("ux.hang", { effect: "idempotent",
    run: (_a, { signal }) => new Promise((_, reject) => signal.addEventListener("abort",
      () => reject(new ToolRejectedError("stopped", { retryable: false })))) });
  flotilla.agent("ux.fails", async (ctx) => { await ctx.now(); throw new Error("boom"); });
  flotilla.agent("ux.parks", (ctx) => ctx.call(charge, {}));
  flotilla.agent("ux.hangs", (ctx) => ctx.call(hang, {}));
  flotilla.agent("ux.llm", async (ctx) =>
    (await ctx.llm({ model: "m", messages: [{ role: "user", content: "hi" }] })).message.content);
}`;

/** A test that waits on a spawned process fails when it hangs, instead of hanging the suite. */
const SPAWNED = { timeout: 120_000 };

describe("flotilla CLI, issue 18", { skip }, () => {
  let db: { url: string; drop: () => Promise<void> };
  let dir: string;
  let f: Flotilla;
  before(async () => {
    db = await freshDatabase();
    dir = mkdtempSync(join(tmpdir(), "flotilla-ux-"));
    f = await Flotilla.open({ store: db.url });
  });
  after(async () => {
    try {
      await f.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  it("signal --json prints what was sent, and the run gets it", SPAWNED, async () => {
    const agent = f.agent("ux.waits", (ctx) => ctx.waitFor("go"));
    const run = await f.start(agent, null);
    const r = cli("signal", run.id, "go", "--payload", '{"ok":true}', "--json", "--store", db.url);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { runId: run.id, signal: "go", payload: { ok: true } });
    assert.deepEqual(await run.result({ timeoutMs: 20_000 }), { ok: true });
  });

  it("show says what made a parked effect's outcome unknown; resolve --json and show say who decided what", async () => {
    const charge = f.tool("ux.card", {
      effect: "irreversible",
      run: async () => {
        throw new Error("connection reset by peer");
      },
    });
    const run = await f.start(
      f.agent("ux.charger", (ctx) => ctx.call(charge, {})),
      null,
    );
    await assert.rejects(run.result({ timeoutMs: 20_000 }), (e) =>
      isFlotillaError(e, "FLOTILLA_RUN_PARKED"),
    );
    const text = cli("show", run.id, "--store", db.url);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /outcome unknown, awaiting a decision:/);
    assert.match(text.stdout, /ux\.card@0 key \S+: unknown after Error: connection reset by peer/);
    assert.match(text.stdout, /effect\.unknown\s+ux\.card key=\S+: outcome unknown, after Error/);
    const shown = JSON.parse(cli("show", run.id, "--json", "--store", db.url).stdout) as {
      effects: { tool: string; awaitingDecision: boolean; unknownBecause: { message: string } }[];
    };
    assert.deepEqual(
      shown.effects.map((e) => [e.tool, e.awaitingDecision, e.unknownBecause.message]),
      [["ux.card", true, "connection reset by peer"]],
    );

    const env = { USER: "alice" };
    const args = ["--committed", "--result", '{"charged":"by hand"}', "--json"];
    const r = cliWithEnv(env, "resolve", run.id, "0", ...args, "--store", db.url);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      runId: run.id,
      step: "0",
      outcome: "committed",
      result: { charged: "by hand" },
      by: "alice",
      status: "pending",
    });
    assert.deepEqual(await run.result({ timeoutMs: 20_000 }), { charged: "by hand" });
    const after = cli("show", run.id, "--store", db.url);
    assert.match(after.stdout, /resolved by an operator:\n {2}ux\.card@0: committed by alice at /);
    assert.match(after.stdout, /effect\.resolved\s+ux\.card resolved as committed by alice/);
    const json = JSON.parse(cli("show", run.id, "--json", "--store", db.url).stdout) as {
      effects: { resolved: { decision: string; by: string } }[];
    };
    assert.deepEqual(
      json.effects.map((e) => [e.resolved.decision, e.resolved.by]),
      [["committed", "alice"]],
    );
  });

  it(
    "show into a pipe closed early ends quietly, without an EPIPE stack trace",
    SPAWNED,
    async () => {
      const run = await f.start(
        f.agent("ux.short", async (ctx) => ctx.now()),
        null,
      );
      await run.result({ timeoutMs: 20_000 });
      const child = spawn(process.execPath, [...cliArgs, "show", run.id, "--store", db.url]);
      child.stdout.destroy(); // the reader is gone before the first line is written: `| head -0`
      const p = watch(child);
      assert.equal(await p.exited, 0);
      assert.equal(p.out.stderr, "");
    },
  );

  it("names the flag and its range when --lease-ms or --concurrency is out of range", () => {
    const module = join(dir, "none.mjs");
    writeFileSync(module, "export function setup() {}\n");
    for (const [flag, value, range] of [
      ["--lease-ms", "1", "an integer of at least 50"],
      ["--concurrency", "10001", "an integer from 1 to 10000"],
    ] as const) {
      const r = cli("worker", module, flag, value, "--store", db.url);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `flotilla: ${flag} must be ${range}, received '${value}'\n`);
    }
  });

  it("a syntax error in a worker module is reported with its file and line", () => {
    for (const [name, source, where] of [
      ["bad.mjs", "export function setup() {\n  const x = ;\n}\n", /bad\.mjs:2: Unexpected token/],
      ["bad.ts", "export function setup(): void {\n  const x: number = ;\n}\n", /bad\.ts:2:\d+: /],
    ] as const) {
      writeFileSync(join(dir, name), source);
      const r = cli("worker", join(dir, name), "--store", db.url);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^flotilla: syntax error in \S+/);
      assert.match(r.stderr, where);
    }
  });

  for (const json of [true, false]) {
    // With --json the module registers no provider; without, it does (and ctx.llm then works).
    it(
      `worker ${json ? "--json prints a JSON line" : "prints a line on stderr"} per run that fails, parks or is cancelled; ${json ? "no provider: the error names registerProvider" : "a module registers its provider"}`,
      SPAWNED,
      async () => {
        const module = join(dir, "agents.mjs");
        writeFileSync(module, WORKER_MODULE);
        const flags = ["--store", db.url, ...(json ? ["--json"] : [])];
        const child = spawn(process.execPath, [...cliArgs, "worker", module, ...flags], {
          env: { ...process.env, UX_PROVIDER: json ? "0" : "1" },
        });
        const w = watch(child);
        const client = await Flotilla.open({ store: db.url, worker: false });
        try {
          await w.until((o) => (json ? o.stdout : o.stderr).includes("worker"));
          const define = (name: string) =>
            client.agent(name, async (): Promise<unknown> => {
              throw new Error("runs only in the worker");
            });
          const start = (name: string) => client.start(define(name), null);
          const [fails, parks, llm, hangs] = await Promise.all(
            ["ux.fails", "ux.parks", "ux.llm", "ux.hangs"].map(start),
          );
          for (const r of [fails, parks]) await assert.rejects(r!.result({ timeoutMs: 20_000 }));
          if (json) await assert.rejects(llm!.result({ timeoutMs: 20_000 }));
          else assert.equal(await llm!.result({ timeoutMs: 20_000 }), "echo");
          for (let i = 0; i < 3000; i++) {
            const journal = await client.store.readJournal(hangs!.id);
            if (journal.some((e) => e.type === "effect.intent")) break;
            await new Promise((r) => setTimeout(r, 20));
          }
          await client.cancel(hangs!.id, { reason: "no longer needed" });
          const ids = [fails, parks, ...(json ? [llm] : []), hangs].map((r) => r!.id);
          await w.until((o) => ids.every((id) => (json ? o.stdout : o.stderr).includes(id)));
          if (json) {
            const byRun = new Map(w.lines().map((l) => [l.runId, l]));
            assert.equal(w.lines()[0]?.event, "worker.started");
            assert.deepEqual(byRun.get(fails!.id)?.error, { code: "Error", message: "boom" });
            assert.equal(byRun.get(fails!.id)?.event, "run.failed");
            assert.deepEqual(byRun.get(parks!.id)?.unknown, {
              step: "0",
              tool: "ux.charge",
              key: (byRun.get(parks!.id)?.unknown as { key: string }).key,
              cause: { code: "Error", message: "connection reset by peer" },
            });
            assert.equal(byRun.get(parks!.id)?.event, "run.parked");
            const noProvider = byRun.get(llm!.id)?.error as { code: string; message: string };
            assert.equal(noProvider.code, "FLOTILLA_NO_PROVIDER");
            assert.match(noProvider.message, /flotilla\.registerProvider\('default', provider\)/);
            assert.deepEqual(
              [byRun.get(hangs!.id)?.event, byRun.get(hangs!.id)?.reason],
              ["run.cancelled", "no longer needed"],
            );
          } else {
            const line = (id: string) => w.out.stderr.split("\n").find((l) => l.includes(id)) ?? "";
            assert.equal(line(fails!.id), `run ${fails!.id} (agent ux.fails) failed: Error: boom`);
            assert.match(
              line(parks!.id),
              /parked: outcome of ux\.charge \(step 0, key \S+\) unknown after Error: connection reset by peer; decide with flotilla resolve \S+ 0 /,
            );
            assert.equal(line(llm!.id), "", "a completed run is not reported");
            assert.equal(
              line(hangs!.id),
              `run ${hangs!.id} (agent ux.hangs) cancelled: no longer needed`,
            );
          }
        } finally {
          await client.close();
          child.kill("SIGTERM");
        }
        assert.equal(await w.exited, 0, w.out.stderr);
      },
    );
  }

  describe("installed (JavaScript run by plain node, through node_modules/.bin)", SPAWNED, () => {
    let installed: InstalledCli;
    before(() => {
      installed = installCli();
      writeFileSync(
        join(installed.project, "agents.ts"),
        'import type { Flotilla } from "flotilla";\n' +
          'export function setup(f: Flotilla): void {\n  f.agent("ts.one", async (): Promise<number> => 1);\n}\n',
      );
      writeFileSync(
        join(installed.project, "agents.mjs"),
        'export function setup(f) {\n  f.agent("js.one", async () => 1);\n}\n',
      );
    });
    after(() => installed.remove());
    const bin = () => join(installed.project, "node_modules", ".bin", "flotilla");

    it("a TypeScript worker module gets a hint that works: node --import tsx node_modules/.bin/flotilla", async () => {
      const plain = spawnSync(process.execPath, [bin(), "worker", "agents.ts", "--store", db.url], {
        cwd: installed.project,
        encoding: "utf8",
      });
      assert.equal(plain.status, 1);
      assert.match(
        plain.stderr,
        /agents\.ts is TypeScript, .*node --import tsx node_modules\/\.bin\/flotilla worker agents\.ts/,
      );
      const hinted = ["--import", "tsx", "node_modules/.bin/flotilla", "worker", "agents.ts"];
      const child = spawn(process.execPath, [...hinted, "--json", "--store", db.url], {
        cwd: installed.project,
      });
      const w = watch(child);
      try {
        await w.until(() => w.lines().length > 0);
        assert.deepEqual(w.lines()[0]?.agents, ["ts.one"]);
      } finally {
        child.kill("SIGTERM");
      }
      assert.equal(await w.exited, 0, w.out.stderr);
    });

    it("SIGTERM to npx flotilla worker leaves no node process behind", async (t) => {
      if (spawnSync("npx", ["--version"]).status !== 0) return t.skip("npx is not installed");
      const child = spawn(
        "npx",
        ["--offline", "flotilla", "worker", "agents.mjs", "--json", "--store", db.url],
        {
          cwd: installed.project,
          env: { ...process.env, npm_config_update_notifier: "false" },
        },
      );
      const w = watch(child);
      await w.until(() => w.lines().length > 0);
      const pid = w.lines()[0]?.pid as number;
      assert.notEqual(pid, child.pid, "npx runs the bin in a process of its own");
      child.kill("SIGTERM");
      await w.exited;
      // The worker stops as on SIGTERM (finishing runs in progress); a bounded wait, not a timing claim.
      for (let i = 0; i < 600 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      const leftover = alive(pid);
      if (leftover) process.kill(pid, "SIGKILL");
      assert.equal(leftover, false, `node process ${pid} outlived npx: ${w.out.stderr}`);
      assert.match(w.out.stdout, /"event":"worker.stopping".*"reason":"parent process exited"/);
    });
  });
});
