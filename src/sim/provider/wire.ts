import type { ServerResponse } from "node:http";
import type { LimitSnapshot } from "./keyLimits.js";
import type { SimCompletion } from "./responder.js";

/** Facts of one response that both wire formats render. */
export interface WireMeta {
  id: string;
  requestId: string;
  model: string;
  now: number;
  inputTokens: number;
  cachedInputTokens: number;
}

export interface WireError {
  status: number;
  type?: string | undefined;
  code?: string | undefined;
  message: string;
}

/** One wire format: how bodies, streams, errors and limit headers look. */
export interface Wire {
  body(c: SimCompletion, meta: WireMeta): unknown;
  /** Events of a streamed answer, each already SSE-framed. */
  events(c: SimCompletion, meta: WireMeta, includeUsage: boolean): string[];
  error(e: WireError, requestId: string): unknown;
  headers(limits: LimitSnapshot, requestId: string, now: number): Record<string, string>;
}

/** Splits text into word-sized deltas, as a model streams it. */
export function deltas(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/**
 * Writes an SSE stream, pausing between events; stops quietly when the
 * client goes away (the pause rejects).
 */
export async function writeEvents(
  res: ServerResponse,
  headers: Record<string, string>,
  events: string[],
  pause: () => Promise<void>,
): Promise<boolean> {
  res.writeHead(200, {
    ...headers,
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  for (const [i, event] of events.entries()) {
    if (res.destroyed) return false;
    res.write(event);
    if (i < events.length - 1) {
      try {
        await pause();
      } catch {
        return false;
      }
    }
  }
  res.end();
  return true;
}
