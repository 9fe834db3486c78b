import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openStore } from "../src/store/open.js";
import { call, cliFromAnywhere, startServeProcess } from "./serve.fixture.js";

/*
 * The bar of issue 17, as a user meets it: in a folder where
 * `flotilla demo --agents 5` ran (the default store, ./.flotilla/flotilla.db),
 * `flotilla serve --port N` answers the API with 401 without a token and 200
 * with one, and /metrics has at least 5 flotilla_ series.
 */
describe("flotilla serve in a folder where the demo ran", () => {
  it(
    "answers 401 without a token, the demo's runs with one, and flotilla_ metrics",
    { timeout: 120_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "flotilla-serve-bar-"));
      try {
        const demo = spawnSync(
          process.execPath,
          [...cliFromAnywhere, "demo", "--agents", "5", "--json"],
          {
            cwd: dir,
            encoding: "utf8",
          },
        );
        assert.equal(demo.status, 0, demo.stderr);
        const token = "bar-token-0123456789";
        const serve = await startServeProcess(["--port", "0"], {
          cwd: dir,
          env: { FLOTILLA_TOKENS: `ops:${token}:*` },
        });
        try {
          assert.match(serve.stderr(), /\.flotilla\/flotilla\.db/);
          const anonymous = await call(serve.url, "GET", "/api/runs");
          assert.equal(anonymous.status, 401);
          assert.equal(
            (anonymous.body as { error: { code: string } }).error.code,
            "FLOTILLA_UNAUTHENTICATED",
          );
          const runs = await call<{ runs: { agent: string; status: string }[] }>(
            serve.url,
            "GET",
            "/api/runs",
            { token },
          );
          assert.equal(runs.status, 200);
          assert.equal(runs.body.runs.length, 5);
          assert.ok(runs.body.runs.every((r) => r.agent === "support.ticket"));
          const metrics = await call<string>(serve.url, "GET", "/metrics", { token });
          assert.equal(metrics.status, 200);
          const series = metrics.body.split("\n").filter((l) => l.startsWith("flotilla_"));
          assert.ok(series.length >= 5, series.join("\n"));
          assert.match(metrics.body, /^flotilla_runs\{status="completed"\} 5$/m);
          assert.equal((await call(serve.url, "GET", "/metrics")).status, 401);
        } finally {
          await serve.stop();
        }
        assert.equal(serve.child.exitCode, 0, serve.stderr());
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it(
    "without tokens binds to loopback, says so, and refuses --host 0.0.0.0",
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "flotilla-serve-open-"));
      try {
        const env = { ...process.env };
        delete env.FLOTILLA_TOKENS;
        const refused = spawnSync(
          process.execPath,
          [...cliFromAnywhere, "serve", "--host", "0.0.0.0"],
          {
            cwd: dir,
            encoding: "utf8",
            env,
          },
        );
        assert.equal(refused.status, 1);
        assert.equal(refused.stdout, "");
        assert.match(refused.stderr, /^flotilla: .*loopback.*\n$/);
        for (const args of [
          ["--port", "70000"],
          ["--port", "x"],
          ["--tokens-file", join(dir, "missing")],
        ]) {
          const bad = spawnSync(process.execPath, [...cliFromAnywhere, "serve", ...args], {
            cwd: dir,
            encoding: "utf8",
            env,
          });
          assert.equal(bad.status, 1, args.join(" "));
          assert.match(bad.stderr, /^flotilla: .+\n$/, args.join(" "));
        }
        const nothing = spawnSync(process.execPath, [...cliFromAnywhere, "serve"], {
          cwd: dir,
          encoding: "utf8",
          env,
        });
        assert.equal(nothing.status, 1);
        assert.match(nothing.stderr, /^flotilla: cannot open store .*nothing has run on it yet\n$/);
        await (await openStore(join(dir, ".flotilla", "flotilla.db"))).close();
        const serve = await startServeProcess(["--port", "0"], {
          cwd: dir,
          env: { FLOTILLA_TOKENS: "" },
        });
        try {
          assert.match(serve.stderr(), /no tokens configured.*loopback only/);
          assert.match(serve.url, /^http:\/\/127\.0\.0\.1:\d+$/);
          assert.equal((await call(serve.url, "GET", "/api/runs")).status, 200);
        } finally {
          await serve.stop();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
