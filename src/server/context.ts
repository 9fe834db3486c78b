import type { Context } from "hono";
import type { Flotilla } from "../runtime/Flotilla.js";
import type { Principal, TokenAuth } from "./auth.js";

/** What every route needs: the library, who is asking, and the server's own settings. */
export interface ServerContext {
  flotilla: Flotilla;
  auth: TokenAuth;
  /** The shared limiter fleet schedulers publish to (postgres:// or redis://), if any. */
  fleetUrl: string | undefined;
  /** How often a live stream looks for new journal events, in ms. */
  pollMs: number;
  /** Open live streams, ended when the server closes. */
  streams: Set<AbortController>;
  /** Where the server says what went wrong (stderr). */
  log: (line: string) => void;
}

export interface Env {
  Variables: { principal: Principal };
}

export type Ctx = Context<Env>;
