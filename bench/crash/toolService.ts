import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One real-world effect as the service saw it. */
export interface Performed {
  tool: string;
  unit: string;
  key: string;
  /** The process that sent the request, when the caller said. */
  caller?: number;
  at: number;
}

export interface PerformRequest {
  tool: string;
  /** The logical unit of work, known to the harness independently of Flotilla's keys. */
  unit: string;
  key: string;
  /** Whether this service honours the Idempotency-Key (returns the first result on a repeat). */
  honoursKey: boolean;
  delayMs: number;
  /** Absolute time (ms since epoch) after which the caller no longer wants the effect. */
  deadline?: number;
  /** The calling process, so the harness can tell whose calls are in flight. */
  caller?: number;
}

export interface ToolServiceOptions {
  /**
   * Asked after an effect was performed: true drops the response (the socket
   * is destroyed), the way a crashed proxy or a lost packet loses an answer.
   */
  dropResponse?: (request: PerformRequest) => boolean;
}

/** Answered when a request arrives after its deadline: nothing was performed. */
export const REFUSED_LATE = 409;

async function body(req: IncomingMessage): Promise<PerformRequest> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as PerformRequest;
}

/**
 * The crash benchmark's recording tool service: every effect it performs is
 * recorded with its logical unit, so repeats are counted from the world's
 * side, not from Flotilla's journal. It waits before and after performing,
 * so killed workers die both before and after the effect happened. A request
 * carrying a deadline that has passed by the time it would act is refused.
 */
export class RecordingToolService {
  readonly performed: Performed[] = [];
  /** Responses dropped after the effect was performed. */
  dropped = 0;
  /** Requests refused because they arrived after their deadline. */
  refusedLate = 0;
  private readonly inFlight = new Map<number | undefined, number>();
  private readonly byKey = new Map<string, unknown>();
  private readonly byUnit = new Map<string, unknown>();
  private server: Server | undefined;

  constructor(private readonly options: ToolServiceOptions = {}) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void (async () => {
        const r = await body(req);
        if (req.url === "/check") {
          const done = this.byUnit.has(`${r.tool}/${r.unit}`);
          res.end(JSON.stringify({ done, result: this.byUnit.get(`${r.tool}/${r.unit}`) ?? null }));
          return;
        }
        this.inFlight.set(r.caller, (this.inFlight.get(r.caller) ?? 0) + 1);
        try {
          await this.perform(r, req, res);
        } finally {
          this.inFlight.set(r.caller, (this.inFlight.get(r.caller) ?? 1) - 1);
        }
      })().catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async perform(
    r: PerformRequest,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    await new Promise((d) => setTimeout(d, r.delayMs));
    if (r.deadline !== undefined && Date.now() > r.deadline) {
      this.refusedLate++;
      res.statusCode = REFUSED_LATE;
      res.end(JSON.stringify({ refused: "deadline passed" }));
      return;
    }
    const keyId = `${r.tool}/${r.key}`;
    let result = r.honoursKey ? this.byKey.get(keyId) : undefined;
    if (result === undefined) {
      result = { id: this.performed.length + 1, unit: r.unit };
      this.performed.push({
        tool: r.tool,
        unit: r.unit,
        key: r.key,
        at: Date.now(),
        ...(r.caller === undefined ? {} : { caller: r.caller }),
      });
      this.byKey.set(keyId, result);
      this.byUnit.set(`${r.tool}/${r.unit}`, result);
    }
    await new Promise((d) => setTimeout(d, r.delayMs));
    if (this.options.dropResponse?.(r)) {
      this.dropped++;
      req.socket.destroy();
      return;
    }
    res.end(JSON.stringify(result));
  }

  /** Effect requests being handled now, from one caller (a process id) or from all. */
  pending(caller?: number): number {
    if (caller !== undefined) return this.inFlight.get(caller) ?? 0;
    let n = 0;
    for (const v of this.inFlight.values()) n += v;
    return n;
  }

  /** Logical units performed more than once, per tool. */
  repeats(tools: readonly string[]): number {
    const counts = new Map<string, number>();
    for (const p of this.performed) {
      if (!tools.includes(p.tool)) continue;
      const id = `${p.tool}/${p.unit}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return [...counts.values()].filter((n) => n > 1).length;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
