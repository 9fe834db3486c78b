import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Command } from "commander";
import { buildProgram } from "../src/cli/program.js";

/*
 * Every CLI command and subcommand, with generated arguments and flags: see
 * test/helpers/cliFuzz.ts for the property. Each runs in a process of its own
 * (its output is captured there); FLOTILLA_PROPERTY_RUNS and FLOTILLA_SEED
 * pass through to it.
 */

function commandPaths(program: Command, prefix: string[] = []): string[][] {
  return program.commands.flatMap((c) =>
    c.commands.length > 0 ? commandPaths(c, [...prefix, c.name()]) : [[...prefix, c.name()]],
  );
}

const runner = join(import.meta.dirname, "helpers", "cliFuzz.ts");

describe("CLI: every command's arguments and flags", () => {
  for (const path of commandPaths(buildProgram())) {
    it(`flotilla ${path.join(" ")}: succeeds or refuses in one line, and a refusal changes nothing`, () => {
      const r = spawnSync(process.execPath, ["--import", "tsx", runner, ...path], {
        encoding: "utf8",
        timeout: 600_000,
      });
      assert.equal(r.signal, null, `the runner did not finish:\n${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
    });
  }
});
