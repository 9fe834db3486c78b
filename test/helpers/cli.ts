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
  const r = spawnSync(process.execPath, [...cliArgs, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
