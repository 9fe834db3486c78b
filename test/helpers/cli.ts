import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** Node arguments that run the CLI from source, for spawning it as a user would. */
export const cliArgs = [
  "--import",
  "tsx",
  join(import.meta.dirname, "..", "..", "src", "cli", "main.ts"),
];

/** Runs `flotilla …args` to completion. */
export function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  // A CLI that hangs fails its test (status null) instead of hanging the suite.
  const r = spawnSync(process.execPath, [...cliArgs, ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
