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
    process.stderr.write(`flotilla: ${oneLine(message)}\n`);
    if (process.env.FLOTILLA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/**
 * One line, whatever the error's text holds: Node's module errors span
 * several, and a message that quotes what the user typed may carry a carriage
 * return or a Unicode line separator, shown escaped (\u2028).
 */
function oneLine(message: string): string {
  return message
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" ")
    .replace(
      /[\p{Cc}\u2028\u2029]/gu,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
}
