import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "../../core/errors.js";
import { limiterBackendOf } from "../../operator/fleetTotals.js";
import { parseTokens, type TokenEntry } from "../../server/auth.js";
import { startServer } from "../../server/server.js";
import { nonNegativeInteger } from "../numbers.js";

/** Tokens from FLOTILLA_TOKENS and --tokens-file together. */
function loadTokens(file: string | undefined): TokenEntry[] {
  const tokens = parseTokens(process.env.FLOTILLA_TOKENS ?? "", "FLOTILLA_TOKENS");
  if (file === undefined) return tokens;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(
      `--tokens-file: cannot read '${file}': ${(err as Error).message}`,
    );
  }
  const fromFile = parseTokens(text, `--tokens-file ${file}`);
  if (fromFile.length === 0)
    throw new InvalidArgumentError(`--tokens-file: '${file}' holds no name:token:tenant line`);
  return [...tokens, ...fromFile];
}

/**
 * `flotilla serve`: the HTTP API and dashboard on a store until interrupted.
 * Without tokens it answers loopback only, and says so.
 */
export async function serveCommand(opts: {
  store: string;
  port: string;
  host: string;
  tokensFile?: string;
  fleet?: string;
  json?: boolean;
}): Promise<void> {
  const port = nonNegativeInteger("--port", opts.port);
  if (port > 65535)
    throw new InvalidArgumentError(`--port must be at most 65535, received '${opts.port}'`);
  const tokens = loadTokens(opts.tokensFile);
  const server = await startServer({
    store: opts.store,
    port,
    host: opts.host,
    tokens,
    // A PostgreSQL store is where fleet schedulers on it publish, unless told otherwise.
    ...(opts.fleet !== undefined
      ? { fleetUrl: opts.fleet }
      : limiterBackendOf(opts.store) === "postgres"
        ? { fleetUrl: opts.store }
        : {}),
  });
  if (!server.authenticated)
    process.stderr.write(
      "flotilla serve: no tokens configured (FLOTILLA_TOKENS or --tokens-file): no authentication, answering loopback only\n",
    );
  process.stderr.write(
    `flotilla serve: dashboard and API at ${server.url}/ on store ${server.flotilla.store.location}${server.authenticated ? ` (${tokens.length} token(s))` : ""}\n`,
  );
  // One line, written once listening: a script reads it to find a port chosen with --port 0.
  if (opts.json)
    process.stdout.write(
      `${JSON.stringify({ url: server.url, host: server.host, port: server.port, authenticated: server.authenticated })}\n`,
    );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write("flotilla serve: stopping\n");
  await server.close();
}
