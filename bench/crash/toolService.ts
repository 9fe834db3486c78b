import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One real-world effect as the service saw it. */
interface Performed {
  tool: string;
  unit: string;
  key: string;
}

interface PerformRequest {
  tool: string;
  /** The logical unit of work, known to the harness independently of Flotilla's keys. */
  unit: string;
  key: string;
  /** Whether this service honours the Idempotency-Key (returns the first result on a repeat). */
  honoursKey: boolean;
  delayMs: number;
}

async function body(req: IncomingMessage): Promise<PerformRequest> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as PerformRequest;
}

/**
 * The crash benchmark's recording tool service: every effect it performs is
 * recorded with its logical unit, so repeats are counted from the world's
 * side, not from Flotilla's journal. It waits before and after performing,
 * so killed workers die both before and after the effect happened.
 */
export class RecordingToolService {
  readonly performed: Performed[] = [];
  private readonly byKey = new Map<string, unknown>();
  private readonly byUnit = new Map<string, unknown>();
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void (async () => {
        const r = await body(req);
        if (req.url === "/check") {
          const done = this.byUnit.has(`${r.tool}/${r.unit}`);
          res.end(JSON.stringify({ done, result: this.byUnit.get(`${r.tool}/${r.unit}`) ?? null }));
          return;
        }
        await new Promise((d) => setTimeout(d, r.delayMs));
        const keyId = `${r.tool}/${r.key}`;
        let result = r.honoursKey ? this.byKey.get(keyId) : undefined;
        if (result === undefined) {
          result = { id: this.performed.length + 1, unit: r.unit };
          this.performed.push({ tool: r.tool, unit: r.unit, key: r.key });
          this.byKey.set(keyId, result);
          this.byUnit.set(`${r.tool}/${r.unit}`, result);
        }
        await new Promise((d) => setTimeout(d, r.delayMs));
        res.end(JSON.stringify(result));
      })().catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
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
