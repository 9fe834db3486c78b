import { z } from "zod";
import { OperationError, operation } from "../operation.js";

const Email = z.object({
  to: z.string().min(1),
  subject: z.string(),
  body: z.string().default(""),
});

/** Sending is irreversible and ignores idempotency keys; drafts can be deleted. */
export const emailOperations = [
  operation({
    service: "email",
    name: "send",
    effect: "write",
    honoursIdempotencyKey: false,
    args: Email,
    perform: (args, { world, nextId }) => {
      const id = nextId("em");
      world.sentEmails.set(id, args);
      return { emailId: id };
    },
  }),
  operation({
    service: "email",
    name: "createDraft",
    effect: "write",
    honoursIdempotencyKey: true,
    inverse: "email.deleteDraft",
    args: Email,
    perform: (args, { world, nextId }) => {
      const id = nextId("dr");
      world.drafts.set(id, args);
      return { draftId: id };
    },
  }),
  operation({
    service: "email",
    name: "deleteDraft",
    effect: "write",
    honoursIdempotencyKey: true,
    args: z.object({ draftId: z.string().min(1) }),
    perform: ({ draftId }, { world }) => {
      if (!world.drafts.delete(draftId)) throw new OperationError(404, `no draft ${draftId}`);
      return { deleted: draftId };
    },
  }),
];
