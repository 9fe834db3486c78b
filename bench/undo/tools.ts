import { ToolRejectedError } from "../../src/effects/Tool.js";
import type { Agent } from "../../src/runtime/Agent.js";
import type { Flotilla } from "../../src/runtime/Flotilla.js";

/** The fan-out agent's name, in every process that executes it or undoes its runs. */
export const FANOUT_AGENT = "bench.undo.fanout";

/**
 * A lost answer is reconciled only after the call's deadline: the sim answers
 * in milliseconds, so the default minute would only make crashes slower.
 */
const TIMEOUT_MS = 5_000;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * POSTs to a simulated service with the call's idempotency key. A 503 was
 * refused before acting (retried safely); any other 5xx or a dropped
 * connection leaves the outcome open; a 4xx is the service's final word,
 * returned for the caller to judge.
 */
async function post(
  base: string,
  operation: string,
  args: object,
  ctx: { idempotencyKey: string; signal: AbortSignal },
): Promise<Answer> {
  const res = await fetch(`${base}/${operation.replace(".", "/")}`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": ctx.idempotencyKey },
    body: JSON.stringify(args),
    signal: ctx.signal,
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status === 503)
    throw Object.assign(new Error(`${operation} answered 503`), {
      status: 503,
      effectApplied: false,
    });
  if (res.status >= 500)
    throw Object.assign(new Error(`${operation} answered ${res.status}`), { status: res.status });
  return { status: res.status, body };
}

/** A forward call or an inverse: 2xx is the result, a 4xx a final refusal. */
async function act(
  base: string,
  operation: string,
  args: object,
  ctx: { idempotencyKey: string; signal: AbortSignal },
  alreadyUndone?: number,
): Promise<Record<string, unknown>> {
  const { status, body } = await post(base, operation, args, ctx);
  if (status < 300) return body;
  // The inverse's own "this is already undone": a repeat after a lost answer, nothing left to do.
  if (status === alreadyUndone) return { alreadyUndone: true, status };
  throw new ToolRejectedError(`${operation} answered ${status}: ${JSON.stringify(body)}`, {
    retryable: false,
    status,
  });
}

export interface Email {
  to: string;
  subject: string;
  body: string;
}

/**
 * The post's fan-out as Flotilla tools on the simulated services: three
 * irreversible calls (two emails, a chat post), two inverses with side
 * effects of their own (cancelling an event emails its attendees, a refund
 * emails a receipt), seven clean inverses (four drafts deleted, three CRM
 * records reverted). Every inverse is called with the key undo gives it,
 * and every one of these services honours it on the inverse.
 */
export function defineFanout(flotilla: Flotilla, base: string): Agent<{ n: number }, number> {
  const t = { timeoutMs: TIMEOUT_MS };
  const send = flotilla.tool("email.send", {
    ...t,
    effect: "irreversible",
    run: (a: Email, c) => act(base, "email.send", a, c),
  });
  const chat = flotilla.tool("chat.post", {
    ...t,
    effect: "irreversible",
    run: (a: { channel: string; text: string }, c) => act(base, "chat.post", a, c),
  });
  const draft = flotilla.tool("email.createDraft", {
    ...t,
    effect: "compensable",
    run: (a: Email, c) => act(base, "email.createDraft", a, c),
    compensate: (_a, r, c) => act(base, "email.deleteDraft", { draftId: r.draftId }, c, 404),
  });
  const crm = flotilla.tool("crm.updateRecord", {
    ...t,
    effect: "compensable",
    run: (a: { id: string; fields: Record<string, string> }, c) =>
      act(base, "crm.updateRecord", a, c),
    compensate: (a, r, c) => act(base, "crm.revertRecord", { id: a.id, revision: r.revision }, c),
  });
  const event = flotilla.tool("calendar.createEvent", {
    ...t,
    effect: "compensable",
    undoSideEffect: "emails a cancellation notice to every attendee",
    run: (a: { title: string; start: string; attendees: string[] }, c) =>
      act(base, "calendar.createEvent", a, c),
    compensate: (_a, r, c) => act(base, "calendar.cancelEvent", { eventId: r.eventId }, c, 409),
  });
  const charge = flotilla.tool("payments.charge", {
    ...t,
    effect: "compensable",
    undoSideEffect: "emails the customer a refund receipt",
    run: (a: { customer: string; amountCents: number }, c) => act(base, "payments.charge", a, c),
    compensate: (_a, r, c) => act(base, "payments.refund", { chargeId: r.chargeId }, c, 409),
  });

  return flotilla.agent(FANOUT_AGENT, async (ctx, { n }: { n: number }) => {
    const who = `customer${n}@example.com`;
    // Three waves, so undo has an order to keep: the records, then what was built on them,
    // then the messages announcing it.
    await ctx.all(
      [1, 2, 3].map((i) =>
        ctx.call(crm, { id: `acct-${n}-${i}`, fields: { stage: "won", by: `run ${n}` } }),
      ),
    );
    await ctx.all([
      ctx.call(event, {
        title: `Kickoff ${n}`,
        start: "2025-07-01T10:00",
        attendees: [who, `am${n}@example.com`],
      }),
      ctx.call(charge, { customer: who, amountCents: 1_000 + n }),
      ...[1, 2, 3, 4].map((i) =>
        ctx.call(draft, { to: `lead${n}-${i}@example.com`, subject: `Intro ${i}`, body: "" }),
      ),
    ]);
    await ctx.all([
      ...[1, 2].map((i) =>
        ctx.call(send, { to: who, subject: `Welcome ${i} (run ${n})`, body: "" }),
      ),
      ctx.call(chat, { channel: "#sales", text: `run ${n}: deal won` }),
    ]);
    return n;
  });
}
