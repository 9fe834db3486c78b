import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError } from "../core/errors.js";
import type { Flotilla } from "../runtime/Flotilla.js";

/*
 * Loading the module `flotilla worker` runs. Node's own errors here leave a
 * new user stuck: a TypeScript module is "Unknown file extension", and a
 * syntax error says what but not where. Each is turned into one line that
 * says where and what to do.
 */

export type Setup = (flotilla: Flotilla) => void | Promise<void>;

/** Imports a worker module and returns its `setup(flotilla)` (named or default export). */
export async function loadSetup(modulePath: string): Promise<Setup> {
  const file = resolve(modulePath);
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw new InvalidArgumentError(
      `flotilla worker needs a module file that exports setup(flotilla), received '${modulePath}' (${existsSync(file) ? "not a file" : "no such file"})`,
      { field: "module", received: modulePath },
    );
  }
  let mod: { setup?: unknown; default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as typeof mod;
  } catch (err) {
    throw explained(modulePath, file, err) ?? err;
  }
  const setup = mod.setup ?? mod.default;
  if (typeof setup !== "function") {
    throw new InvalidArgumentError(
      `${modulePath} must export a function setup(flotilla) (named or default)`,
    );
  }
  return setup as Setup;
}

function explained(shown: string, file: string, err: unknown): Error | undefined {
  const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : "";
  if (code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[cm]?tsx?"/.test(text)) {
    const ts = /for (.+)$/.exec(text)?.[1] ?? shown;
    return new InvalidArgumentError(
      `${ts} is TypeScript, which node does not load by itself: run the worker through tsx ` +
        `(npm i -D tsx; node --import tsx node_modules/.bin/flotilla worker ${shown}), ` +
        "or compile the module to JavaScript and pass the .js file",
      { field: "module", received: shown },
    );
  }
  // tsx (esbuild) says where, on a line of its own: `file:line:col: ERROR: what`.
  const located = /^(.+:\d+:\d+): ERROR: (.+)$/m.exec(text);
  if (name === "TransformError" && located)
    return syntaxError(shown, `${located[1]}: ${located[2]}`);
  if (name === "SyntaxError") return syntaxError(shown, whereIs(file) ?? undefined, text);
  return undefined;
}

function syntaxError(shown: string, where: string | undefined, what = ""): InvalidArgumentError {
  return new InvalidArgumentError(
    where
      ? `syntax error in ${where}`
      : `syntax error in ${shown} or a module it imports: ${what} (node does not say where; ` +
          "run node --check on each)",
    { field: "module", received: shown },
  );
}

/**
 * Where a syntax error in the module is: `node --check` (which parses and
 * runs nothing) prints `file:line`, the line, and the error, which the
 * dynamic import's SyntaxError leaves out. Undefined when the module itself
 * parses (the error is in a module it imports).
 */
function whereIs(file: string): string | null {
  const check = spawnSync(process.execPath, ["--check", file], { encoding: "utf8" });
  if (check.status === 0 || check.error) return null;
  const lines = check.stderr.split("\n");
  const at = lines.findIndex((l) => /^.+:\d+$/.test(l));
  const what = lines.find((l) => l.startsWith("SyntaxError: "));
  if (at < 0 || !what) return null;
  return `${lines[at]}: ${what.slice("SyntaxError: ".length)} (${(lines[at + 1] ?? "").trim()})`;
}
