import { isFlotillaError } from "../core/errors.js";
import { buildProgram } from "./program.js";

/** Commander's ways of ending that asked for nothing wrong: help and the version. */
const QUIET_EXITS = new Set(["commander.helpDisplayed", "commander.help", "commander.version"]);

/**
 * Runs `flotilla <args>` (without node and the script) and returns its exit
 * status: 0 done, 1 refused or failed (one `flotilla: …` line on stderr), 2
 * a command line it could not parse. A command that sets process.exitCode
 * (an incomplete undo) keeps it.
 */
export async function runCli(args: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(args, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (code.startsWith("commander.")) return QUIET_EXITS.has(code) ? 0 : 2;
    const message = isFlotillaError(err)
      ? err.message
      : err instanceof Error
        ? err.message
        : String(err);
    // One line, whatever the error's own text holds (Node's module errors span several).
    const oneLine = message
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .join(" ");
    process.stderr.write(`flotilla: ${oneLine}\n`);
    if (process.env.FLOTILLA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
