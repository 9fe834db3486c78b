import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startSimTools, type SimTools } from "../src/sim/index.js";

async function call(
  tools: SimTools,
  op: string,
  args: unknown,
  key?: string,
): Promise<{ status: number; body: Record<string, unknown>; replayed: boolean } | "dropped"> {
  try {
    const res = await fetch(`${tools.url}/${op.replace(".", "/")}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key !== undefined && { "idempotency-key": key }),
      },
      body: JSON.stringify(args),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      replayed: res.headers.get("idempotent-replayed") === "true",
    };
  } catch {
    return "dropped";
  }
}

function ok(result: Awaited<ReturnType<typeof call>>): Record<string, unknown> {
  assert.notEqual(result, "dropped");
  if (result === "dropped") throw new Error("dropped");
  assert.equal(result.status, 200, JSON.stringify(result.body));
  return result.body;
}

void describe("simulated tool world", () => {
  let tools: SimTools;
  before(async () => {
    tools = await startSimTools({ seed: 1 });
  });
  after(async () => {
    await tools.close();
  });

  void it("honours Idempotency-Key where the service promises it: no second charge", async () => {
    tools.reset();
    const args = { customer: "c1", amountCents: 500 };
    const first = ok(await call(tools, "payments.charge", args, "refund:order-1"));
    const again = await call(tools, "payments.charge", args, "refund:order-1");
    assert.notEqual(again, "dropped");
    if (again === "dropped") return;
    assert.equal(again.replayed, true);
    assert.deepEqual(again.body, first);
    assert.equal(tools.effects().length, 1);
    assert.deepEqual(tools.duplicates(), []);
    const misuse = await call(
      tools,
      "payments.charge",
      { ...args, amountCents: 900 },
      "refund:order-1",
    );
    assert.equal(misuse !== "dropped" && misuse.status, 422);
  });

  void it("ignores Idempotency-Key where the service does not, and the duplicate shows up", async () => {
    tools.reset();
    const args = { to: "ann@example.com", subject: "Your refund", body: "done" };
    ok(await call(tools, "email.send", args, "email:1"));
    ok(await call(tools, "email.send", args, "email:1"));
    const dups = tools.duplicates();
    assert.equal(dups.length, 1);
    assert.equal(dups[0]?.operation, "send");
    assert.equal(dups[0]?.count, 2);
    assert.deepEqual(dups[0]?.idempotencyKeys, ["email:1", "email:1"]);
    const overHttp = (await (await fetch(`${tools.url}/_sim/duplicates`)).json()) as unknown[];
    assert.equal(overHttp.length, 1);
  });

  void it("has inverses: refund, delete draft, revert record", async () => {
    tools.reset();
    const charge = ok(await call(tools, "payments.charge", { customer: "c", amountCents: 100 }));
    ok(await call(tools, "payments.refund", { chargeId: charge.chargeId }));
    const twice = await call(tools, "payments.refund", { chargeId: charge.chargeId });
    assert.equal(twice !== "dropped" && twice.status, 409);

    const draft = ok(await call(tools, "email.createDraft", { to: "a@b.c", subject: "s" }));
    ok(await call(tools, "email.deleteDraft", { draftId: draft.draftId }));

    ok(await call(tools, "crm.updateRecord", { id: "r1", fields: { tier: "gold" } }));
    const update = ok(
      await call(tools, "crm.updateRecord", { id: "r1", fields: { tier: "platinum" } }),
    );
    ok(await call(tools, "crm.revertRecord", { id: "r1", revision: update.revision }));
    assert.deepEqual(ok(await call(tools, "crm.getRecord", { id: "r1" })).fields, { tier: "gold" });

    const catalog = new Map(tools.catalog().map((c) => [c.operation, c]));
    assert.equal(catalog.get("payments.charge")?.inverse, "payments.refund");
    assert.equal(catalog.get("email.send")?.inverse, undefined);
    assert.equal(catalog.get("chat.post")?.honoursIdempotencyKey, false);
  });

  void it("records the side effects of an inverse: cancelling an event emails every attendee", async () => {
    tools.reset();
    const event = ok(
      await call(tools, "calendar.createEvent", {
        title: "Sync",
        start: "2025-06-01T10:00",
        attendees: ["a@x", "b@x"],
      }),
    );
    ok(await call(tools, "calendar.cancelEvent", { eventId: event.eventId }));
    const effects = tools.effects();
    const cancel = effects.find((e) => e.operation === "cancelEvent");
    const emails = effects.filter((e) => e.service === "email" && e.causedBy === cancel?.seq);
    assert.deepEqual(
      emails.map((e) => (e.args as { to: string }).to),
      ["a@x", "b@x"],
    );
  });

  void it("records the side effect of a refund: the customer is emailed a receipt", async () => {
    tools.reset();
    const charge = ok(
      await call(tools, "payments.charge", { customer: "cus_1", amountCents: 250 }),
    );
    ok(await call(tools, "payments.refund", { chargeId: charge.chargeId }));
    const effects = tools.effects();
    const refund = effects.find((e) => e.operation === "refund");
    const receipts = effects.filter((e) => e.service === "email" && e.causedBy === refund?.seq);
    assert.equal(receipts.length, 1);
    const catalog = new Map(tools.catalog().map((c) => [c.operation, c]));
    assert.match(catalog.get("payments.charge")?.inverseSideEffect ?? "", /receipt/);
  });

  void it("does not record reads as effects and refuses bad arguments naming the field", async () => {
    tools.reset();
    ok(await call(tools, "calendar.listEvents", {}));
    assert.equal(tools.effects().length, 0);
    const bad = await call(tools, "payments.charge", { customer: "c", amountCents: -1 });
    assert.ok(
      bad !== "dropped" && bad.status === 400 && /amountCents/.test(String(bad.body.error)),
    );
  });
});

void describe("simulated tool world faults", () => {
  void it("loses the response after committing; a retry with the same key does not act twice", async () => {
    const tools = await startSimTools({ seed: 4, faults: { lostAfterCommitRate: 1 } });
    try {
      const args = { customer: "c9", amountCents: 700 };
      assert.equal(await call(tools, "payments.charge", args, "k-1"), "dropped");
      const retry = await call(tools, "payments.charge", args, "k-1");
      assert.ok(retry !== "dropped" && retry.replayed && retry.status === 200);
      assert.equal(tools.effects().length, 1);

      assert.equal(
        await call(tools, "chat.post", { channel: "#ops", text: "deploying" }, "k-2"),
        "dropped",
      );
      assert.equal(
        await call(tools, "chat.post", { channel: "#ops", text: "deploying" }, "k-2"),
        "dropped",
      );
      assert.equal(
        tools.duplicates()[0]?.count,
        2,
        "a naive retry of a non-idempotent tool duplicates",
      );
      assert.equal(tools.stats().lostAfterCommit, 3);
    } finally {
      await tools.close();
    }
  });

  void it("injects transient errors per service before anything happens", async () => {
    const tools = await startSimTools({ seed: 4, services: { chat: { errorRate: 1 } } });
    try {
      const res = await call(tools, "chat.post", { channel: "#ops", text: "hi" });
      assert.equal(res !== "dropped" && res.status, 503);
      ok(await call(tools, "email.send", { to: "a@b", subject: "s" }));
      assert.equal(tools.effects().length, 1);
      assert.equal(tools.stats().injectedErrors, 1);
    } finally {
      await tools.close();
    }
  });
});
