import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** Node arguments that run the CLI from source, for spawning it as a user would. */
export const cliArgs = [
  "--import",
  "tsx",
  join(import.meta.dirname, "..", "..", "src", "cli", "main.ts"),
];

type CliResult = { code: number | null; stdout: string; stderr: string };

/** Runs `flotilla …args` to completion. */
export function cli(...args: string[]): CliResult {
  return cliWithEnv({}, ...args);
}

/** Runs `flotilla …args` to completion with these variables added to the environment. */
export function cliWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): CliResult {
  // A CLI that hangs fails its test (status null) instead of hanging the suite.
  const r = spawnSync(process.execPath, [...cliArgs, ...args], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
