import type { Json } from "../core/json.js";
import type { Flotilla } from "../runtime/Flotilla.js";

export interface Ticket {
  id: string;
  customer: string;
  email: string;
  text: string;
  /** Set for refund requests: the charge to refund. */
  chargeId?: string;
}

/** POSTs to a simulated service; an HTTP error status means the service refused before acting. */
async function post(
  base: string,
  path: string,
  args: object,
  idempotencyKey: string,
  signal: AbortSignal,
): Promise<Json> {
  const res = await fetch(`${base}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": idempotencyKey },
    body: JSON.stringify(args),
    signal,
  });
  const body = (await res.json()) as Json;
  if (!res.ok) {
    const message = `${path} answered ${res.status}: ${JSON.stringify(body)}`;
    throw Object.assign(new Error(message), { status: res.status, effectApplied: false });
  }
  return body;
}

/**
 * The support desk the demo runs: each ticket is looked up in the CRM,
 * triaged by the model, refunded when asked (idempotent: the payments API
 * honours Idempotency-Key), noted in the CRM (compensable, reconciled by
 * reading the record back) and answered by email (irreversible: a lost
 * response parks the run for a decision instead of sending twice).
 */
/**
 * How long a call to one of the desk's services may take. The simulated
 * services answer in milliseconds; a lost answer is reconciled only once
 * its call can no longer land, so the default minute would hold a ticket
 * for a minute.
 */
const SERVICE_TIMEOUT_MS = 5_000;

export function defineSupportDesk(flotilla: Flotilla, toolsUrl: string, model: string) {
  const crmGet = flotilla.tool("crm.getRecord", {
    timeoutMs: SERVICE_TIMEOUT_MS,
    effect: "read",
    run: (a: { id: string }, c) => post(toolsUrl, "crm/getRecord", a, c.idempotencyKey, c.signal),
  });
  const refund = flotilla.tool("payments.refund", {
    timeoutMs: SERVICE_TIMEOUT_MS,
    effect: "idempotent",
    // Charge ids are only unique within one simulated world; the ticket makes the unit of work global.
    key: (a: { chargeId: string; ticket: string }) => `refund:${a.ticket}:${a.chargeId}`,
    run: (a, c) =>
      post(toolsUrl, "payments/refund", { chargeId: a.chargeId }, c.idempotencyKey, c.signal),
  });
  const crmUpdate = flotilla.tool("crm.updateRecord", {
    timeoutMs: SERVICE_TIMEOUT_MS,
    effect: "compensable",
    run: (a: { id: string; fields: Record<string, string> }, c) =>
      post(toolsUrl, "crm/updateRecord", a, c.idempotencyKey, c.signal),
    compensate: async (a, result, c) =>
      post(
        toolsUrl,
        "crm/revertRecord",
        { id: a.id, revision: (result as { revision: number }).revision },
        `${c.idempotencyKey}:undo`,
        c.signal,
      ),
    reconcile: async (a, c) => {
      const record = (await post(
        toolsUrl,
        "crm/getRecord",
        { id: a.id },
        c.idempotencyKey,
        c.signal,
      )) as {
        fields: Record<string, unknown>;
        revision: number;
      };
      return record.fields.lastTicket === a.fields.lastTicket
        ? { status: "done", result: { id: a.id, revision: record.revision } }
        : { status: "not-done" };
    },
  });
  const email = flotilla.tool("email.send", {
    timeoutMs: SERVICE_TIMEOUT_MS,
    effect: "irreversible",
    run: (a: { to: string; subject: string; body: string }, c) =>
      post(toolsUrl, "email/send", a, c.idempotencyKey, c.signal),
  });

  return flotilla.agent("support.ticket", async (ctx, t: Ticket) => {
    const record = await ctx.call(crmGet, { id: t.customer });
    const triage = await ctx.llm(
      {
        model,
        maxTokens: 60,
        messages: [
          {
            role: "system",
            content: "You triage support tickets. Answer with one line: category and urgency.",
          },
          {
            role: "user",
            content: `Customer record: ${JSON.stringify(record)}\nTicket: ${t.text}`,
          },
        ],
      },
      { name: "triage" },
    );
    if (t.chargeId) await ctx.call(refund, { chargeId: t.chargeId, ticket: t.id });
    await ctx.call(crmUpdate, { id: t.customer, fields: { lastTicket: t.id, status: "answered" } });
    const reply = await ctx.llm(
      {
        model,
        maxTokens: 120,
        messages: [
          { role: "system", content: "You write short, kind replies to customers." },
          { role: "user", content: t.text },
          triage.message,
          { role: "user", content: t.chargeId ? "Confirm the refund." : "Answer the question." },
        ],
      },
      { name: "reply" },
    );
    await ctx.call(email, {
      to: t.email,
      subject: `Re: ticket ${t.id}`,
      body: reply.message.content ?? "",
    });
    return { ticket: t.id, refunded: Boolean(t.chargeId) };
  });
}
