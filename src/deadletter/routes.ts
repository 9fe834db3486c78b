import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Json } from "../core/json.js";
import { RedrivePatchSchema } from "./redrive.js";
import { DEAD_LETTER_CLASSES, type DeadLetterClass } from "./taxonomy.js";
import type { NewDeadLetter } from "./types.js";

/**
 * What happens to a new dead letter of a class: `hold` for a human (the
 * default for every class: nothing is retried or sent anywhere unless asked),
 * `redrive` automatically with a change (another model, a larger budget) at
 * most `maxRedrives` times per run, or `escalate` to a webhook with an
 * HMAC-SHA256-signed payload.
 */
export const RouteSchema = z.discriminatedUnion("action", [
  z.strictObject({ action: z.literal("hold") }),
  z.strictObject({
    action: z.literal("redrive"),
    patch: RedrivePatchSchema.optional(),
    maxRedrives: z.number().int().min(1).optional(),
  }),
  z.strictObject({
    action: z.literal("escalate"),
    webhook: z.url(),
    /** Shared with the receiver, who checks `x-flotilla-signature` with verifySignature. */
    secret: z.string().min(16),
  }),
]);
export type Route = z.infer<typeof RouteSchema>;

export const RoutesSchema = z.partialRecord(
  z.enum(DEAD_LETTER_CLASSES as [DeadLetterClass, ...DeadLetterClass[]]),
  RouteSchema,
);
export type Routes = z.infer<typeof RoutesSchema>;

export const HOLD: Route = { action: "hold" };

/** `v1=<hex>`: HMAC-SHA256 over `<timestamp>.<body>`, so a captured payload cannot be replayed later under a new time. */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function verifySignature(
  secret: string,
  timestamp: number,
  body: string,
  signature: string,
): boolean {
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** What the webhook receives: enough to decide, not the whole context (fetch it with dlq show). */
export function escalationBody(entry: NewDeadLetter): Json {
  return {
    id: entry.id,
    runId: entry.runId,
    rootId: entry.rootId,
    agent: entry.agent,
    tenant: entry.tenant,
    class: entry.class,
    error: entry.error as unknown as Json,
    cost: entry.context.cost as unknown as Json,
    steps: entry.context.steps,
  };
}

/** Posts the signed escalation; a receiver that does not answer 2xx is reported to the caller. */
export async function escalate(
  route: Extract<Route, { action: "escalate" }>,
  entry: NewDeadLetter,
  now: number,
): Promise<void> {
  const body = JSON.stringify(escalationBody(entry));
  const res = await fetch(route.webhook, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-flotilla-timestamp": String(now),
      "x-flotilla-signature": signPayload(route.secret, now, body),
    },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`escalation webhook answered ${res.status}`);
}
