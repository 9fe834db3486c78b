import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { rngFor } from "../../src/core/rng.js";
import { dropConnection, listen, sendJson, shutDown } from "../../src/sim/http.js";

/** The faults both columns meet during undo (none during the forward phase). */
export interface UndoFaults {
  /** Share of calls refused with a 503 before they reach the service. */
  errorRate: number;
  /** Share of calls the service performs, whose answer is then lost (the connection drops). */
  lostAfterCommitRate: number;
}

export interface FaultProxy {
  url: string;
  /** Faults are off until this is called: the forward phase builds the world undisturbed. */
  arm(faults: UndoFaults): void;
  /** Calls made since it was armed, and the faults injected into them. */
  counts(): { requests: number; injectedErrors: number; lostAfterCommit: number };
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * A loopback proxy in front of one simulated tool world that injects the
 * sim's two faults with rates that can be switched on after the forward
 * phase: the sim's own fault options are fixed when it starts, and would
 * also strike the forward calls (an irreversible send whose answer is lost
 * parks its run, leaving nothing identical to undo). A 503 never reaches
 * the service; a lost answer is performed by it, and recorded in its ledger.
 */
export async function startFaultProxy(target: string, seed: number): Promise<FaultProxy> {
  let faults: UndoFaults = { errorRate: 0, lostAfterCommitRate: 0 };
  const counts = { requests: 0, injectedErrors: 0, lostAfterCommit: 0 };
  let n = 0;
  let armed = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const payload = await body(req);
    const path = req.url ?? "/";
    // Only the undo's calls are counted and disturbed: the forward phase runs unarmed.
    const passThrough = path.startsWith("/_sim/") || !armed;
    const u = rngFor(seed, "undo-proxy", n++).next();
    if (!passThrough) counts.requests++;
    if (!passThrough && u < faults.errorRate) {
      counts.injectedErrors++;
      return sendJson(res, 503, { error: "service temporarily unavailable (simulated)" });
    }
    const key = req.headers["idempotency-key"];
    const answer = await fetch(`${target}${path}`, {
      method: req.method ?? "GET",
      headers: {
        "content-type": "application/json",
        ...(typeof key === "string" ? { "idempotency-key": key } : {}),
      },
      ...(req.method === "POST" ? { body: payload } : {}),
    });
    const text = await answer.text();
    if (!passThrough && answer.status < 400 && u < faults.errorRate + faults.lostAfterCommitRate) {
      counts.lostAfterCommit++;
      return dropConnection(req, res);
    }
    const replayed = answer.headers.get("idempotent-replayed");
    res.writeHead(answer.status, {
      "content-type": "application/json",
      ...(replayed ? { "idempotent-replayed": replayed } : {}),
    });
    res.end(text);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) =>
      sendJson(res, 502, { error: `fault proxy: ${String(err)}` }),
    );
  });
  const port = await listen(server, "127.0.0.1", 0);
  return {
    url: `http://127.0.0.1:${port}`,
    arm: (f) => {
      faults = { ...f };
      armed = true;
    },
    counts: () => ({ ...counts }),
    close: () => shutDown(server),
  };
}
