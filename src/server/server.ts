import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InvalidArgumentError } from "../core/errors.js";
import { Flotilla } from "../runtime/Flotilla.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/types.js";
import { createApp } from "./app.js";
import { TokenAuth, type TokenEntry } from "./auth.js";
import type { ServerContext } from "./context.js";
import { isLoopbackAddress } from "./loopback.js";

export interface ServeOptions {
  /** The store: a URL or path (opened and closed by the server; never created), or an open Store. */
  store: string | Store;
  /** Default 8420; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. Without tokens only a loopback address is allowed. */
  host?: string;
  /** Bearer tokens; none: no authentication, loopback only. */
  tokens?: readonly TokenEntry[];
  /** The shared limiter fleet schedulers publish to (postgres:// or redis://), for `/api/fleet`. */
  fleetUrl?: string;
  /** How often live streams look for new journal events. Default 500 ms. */
  pollMs?: number;
  /** Where errors are told. Default stderr. */
  log?: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Whether requests need a token. */
  readonly authenticated: boolean;
  readonly flotilla: Flotilla;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 8420;

function listen(ctx: ServerContext, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: createApp(ctx).fetch, hostname: host, port }) as Server;
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new InvalidArgumentError(
              `port ${port} on ${host} is in use; choose another with --port`,
              {
                field: "port",
                received: port,
              },
            )
          : err.code === "EADDRNOTAVAIL"
            ? new InvalidArgumentError(`${host} is not an address of this machine`, {
                field: "host",
                received: host,
              })
            : err,
      ),
    );
    server.once("listening", () => resolve(server));
  });
}

/**
 * Serves the HTTP API and the dashboard on a store: no worker, it executes
 * nothing; actions go through the library (cancel, retry, resolve, undo,
 * redrive, discard) and the store's workers carry them out.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`port must be an integer from 0 to 65535, received ${port}`, {
      field: "port",
    });
  const auth = new TokenAuth(options.tokens ?? []);
  if (!auth.enabled && !isLoopbackAddress(host))
    throw new InvalidArgumentError(
      `no tokens are configured, so the server binds only to loopback; refusing --host ${host} (set FLOTILLA_TOKENS or --tokens-file to serve other hosts)`,
      { field: "host", received: host },
    );
  // Like every operator command, the server never creates or migrates a store: a missing one is refused.
  const owned =
    typeof options.store === "string"
      ? await openStore(options.store, { create: false })
      : undefined;
  let flotilla: Flotilla;
  try {
    flotilla = await Flotilla.open({ store: owned ?? options.store, worker: false });
  } catch (err) {
    await owned?.close();
    throw err;
  }
  const ctx: ServerContext = {
    flotilla,
    auth,
    fleetUrl: options.fleetUrl,
    pollMs: options.pollMs ?? 500,
    streams: new Set(),
    log: options.log ?? ((line) => process.stderr.write(`flotilla serve: ${line}\n`)),
  };
  let server: Server;
  try {
    server = await listen(ctx, host, port);
  } catch (err) {
    await flotilla.close();
    await owned?.close();
    throw err;
  }
  const bound = server.address() as AddressInfo;
  const shown = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${bound.port}`,
    host: bound.address,
    port: bound.port,
    authenticated: auth.enabled,
    flotilla,
    close: () =>
      (closing ??= (async () => {
        for (const s of ctx.streams) s.abort();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await flotilla.close();
        await owned?.close();
      })()),
  };
}
