import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Flotilla } from "../src/index.js";
import { cli } from "./helpers/cli.js";

describe("flotilla CLI", () => {
  let dir: string;
  let store: string;
  let runId: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "flotilla-cli-"));
    store = join(dir, "f.db");
    const f = await Flotilla.open({ store });
    const agent = f.agent("cli.echo", async (ctx, x: number) => (await ctx.now()) > 0 && x);
    const run = await f.start(agent, 5);
    await run.result({ timeoutMs: 5000 });
    runId = run.id;
    await f.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("lists runs as one JSON object", () => {
    const r = cli("runs", "--store", store, "--json");
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { runs: { id: string; status: string }[] };
    assert.deepEqual(
      out.runs.map((x) => [x.id, x.status]),
      [[runId, "completed"]],
    );
  });

  it("shows a run's timeline", () => {
    const r = cli("show", runId, "--store", store);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /status completed/);
    assert.match(r.stdout, /step\.completed/);
  });

  it("answers bad input with one line on stderr and a non-zero exit", () => {
    for (const args of [
      ["show", "no-such-run", "--store", store],
      // What the user typed is echoed escaped: a line separator or a return cannot split the line.
      ["show", "a\u2028b\rc", "--store", store],
      ["runs", "--status", "bogus", "--store", store],
      ["runs", "--store", "mysql://nope"],
      ["cancel", "no-such-run", "--store", store],
      ["bench", "nonsense"],
      ["demo", "--agents", "0", "--store", store],
      ["sim", "nope"],
    ]) {
      const r = cli(...args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
      assert.match(r.stderr, /^flotilla: .+\n$/, args.join(" "));
    }
  });

  it("runs the demo twice on one store, with no duplicate effects", () => {
    const demoStore = join(dir, "demo.db");
    for (let i = 0; i < 2; i++) {
      const r = cli("demo", "--agents", "6", "--store", demoStore, "--json");
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, number>;
      assert.equal(out.runs, 6);
      assert.equal((out.completed ?? 0) + (out.parked ?? 0) + (out.failed ?? 0), 6);
      assert.equal(out.duplicateEffects, 0);
      // Every answered call took at least one request; unanswered ones may have taken none.
      const answered = (out.logicalLlmCalls ?? 0) - (out.unansweredLlmCalls ?? 0);
      assert.ok((out.providerRequests ?? 0) >= answered && (out.logicalLlmCalls ?? 0) >= 12);
      // Without a terminal, a line per phase on stderr (stdout stays one JSON object).
      assert.deepEqual(
        r.stderr.split("\n").filter((line) => !line.startsWith("  ")),
        [
          "starting the simulated provider and tool services",
          `opening the store ${demoStore}`,
          "starting 6 runs, one per ticket",
          "running them through rate limits, tool errors, lost responses and a 3 s provider outage",
          "",
        ],
        r.stderr,
      );
      assert.match(r.stderr, /^ {2}6\/6 tickets$/m);
    }
    const runs = JSON.parse(cli("runs", "--store", demoStore, "--json").stdout) as {
      runs: unknown[];
    };
    assert.equal(runs.runs.length, 12);
  });

  it("plans an undo, and refuses to undo what does not exist", () => {
    const plan = cli("undo", runId, "--plan", "--json", "--store", store);
    assert.equal(plan.code, 0, plan.stderr);
    assert.deepEqual(JSON.parse(plan.stdout), { runId, runs: [runId], effects: [] });
    const missing = cli("undo", "nope", "--store", store);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope/);
    const bad = cli("undo", runId, "--timeout", "soon", "--store", store);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--timeout/);
  });

  it("prints its version, help exits 0, and a parse error is one line", () => {
    const version = cli("--version");
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    assert.equal(cli("help").code, 0);
    const bad = cli("runs", "--bogus");
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /unknown option '--bogus'/);
  });

  it("never creates or migrates a store to read or act on it", () => {
    const missing = join(dir, "nowhere", "deep", "x.db");
    for (const args of [["runs"], ["show", "x"], ["dlq", "list"], ["signal", "x", "go"]]) {
      const r = cli(...args, "--store", missing);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /nothing has run on it yet/);
    }
    assert.equal(existsSync(join(dir, "nowhere")), false, "no folder was created");
    const garbage = join(dir, "garbage.db");
    writeFileSync(garbage, "not a database, just text\n".repeat(100));
    const r = cli("runs", "--store", garbage);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a database/);
    // The demo starts its simulated services first: they must not keep it alive.
    const demo = cli("demo", "--store", garbage);
    assert.equal(demo.code, 1);
    assert.match(demo.stderr, /not a database/);
  });

  it("refuses to cancel or signal a finished run", () => {
    const r = cli("cancel", runId, "--store", store);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already completed/);
    const s = cli("signal", runId, "approve", "--store", store);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /will never read a signal/);
  });
});
