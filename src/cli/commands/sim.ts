import { readFileSync } from "node:fs";
import { InvalidArgumentError, messageOf } from "../../core/errors.js";
import { startSimProvider, startSimTools } from "../../sim/index.js";
import { printJson, printLine } from "../output.js";

function config(path: string | undefined): Record<string, unknown> {
  if (path === undefined) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidArgumentError(`--config ${path}: ${messageOf(err)}`);
  }
}

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text))
    throw new InvalidArgumentError(`${name} must be a non-negative integer, received '${text}'`);
  return Number(text);
}

/** Runs the simulated provider or tool services until interrupted, for rehearsing failure by hand. */
export async function simCommand(
  what: string,
  opts: { port?: string; seed?: string; config?: string; json?: boolean },
): Promise<void> {
  if (what !== "provider" && what !== "tools") {
    throw new InvalidArgumentError(`flotilla sim takes 'provider' or 'tools', received '${what}'`);
  }
  const port = integer("--port", opts.port);
  const seed = integer("--seed", opts.seed);
  const options = {
    ...config(opts.config),
    ...(port !== undefined ? { port } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };
  const server =
    what === "provider" ? await startSimProvider(options) : await startSimTools(options);
  const info =
    "openaiBaseURL" in server
      ? {
          url: server.url,
          openaiBaseURL: server.openaiBaseURL,
          anthropicBaseURL: server.anthropicBaseURL,
        }
      : { url: server.url };
  if (opts.json) printJson(info);
  else {
    printLine(`simulated ${what} listening on ${server.url}`);
    if ("openaiBaseURL" in info)
      printLine(
        `  OpenAI SDK baseURL ${info.openaiBaseURL}   Anthropic SDK baseURL ${info.anthropicBaseURL}`,
      );
    printLine(`  stats: GET ${server.url}/_sim/stats   (Ctrl-C to stop)`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
