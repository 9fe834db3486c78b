import { z } from "zod";
import { OperationError, operation } from "../operation.js";

/**
 * The careful service: every write honours `Idempotency-Key`, and a charge can
 * be refunded, which has a side effect of its own: the customer is emailed a
 * receipt (recorded as caused by the refund, like a cancelled event's notices).
 */
export const paymentOperations = [
  operation({
    service: "payments",
    name: "charge",
    effect: "write",
    honoursIdempotencyKey: true,
    inverse: "payments.refund",
    inverseSideEffect: "emails the customer a refund receipt",
    args: z.object({
      customer: z.string().min(1),
      amountCents: z.number().int().positive(),
      currency: z.string().length(3).default("usd"),
    }),
    perform: (args, { world, nextId }) => {
      const id = nextId("ch");
      world.charges.set(id, args);
      return { chargeId: id, amountCents: args.amountCents };
    },
  }),
  operation({
    service: "payments",
    name: "refund",
    effect: "write",
    honoursIdempotencyKey: true,
    args: z.object({ chargeId: z.string().min(1) }),
    perform: ({ chargeId }, { world, nextId, sideEffect }) => {
      const charge = world.charges.get(chargeId);
      if (!charge) throw new OperationError(404, `no charge ${chargeId}`);
      if (charge.refundId) throw new OperationError(409, `charge ${chargeId} is already refunded`);
      const refundId = nextId("re");
      charge.refundId = refundId;
      const receipt = {
        to: charge.customer,
        subject: `Refund receipt ${refundId}`,
        body: `${charge.amountCents} ${charge.currency} of charge ${chargeId} refunded.`,
      };
      const emailId = nextId("em");
      world.sentEmails.set(emailId, receipt);
      sideEffect("email", "send", receipt, { emailId });
      return { refundId, chargeId, amountCents: charge.amountCents };
    },
  }),
  operation({
    service: "payments",
    name: "getCharge",
    effect: "read",
    honoursIdempotencyKey: false,
    args: z.object({ chargeId: z.string().min(1) }),
    perform: ({ chargeId }, { world }) => {
      const charge = world.charges.get(chargeId);
      if (!charge) throw new OperationError(404, `no charge ${chargeId}`);
      return { chargeId, ...charge, refunded: charge.refundId !== undefined };
    },
  }),
];
