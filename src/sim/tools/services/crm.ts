import { z } from "zod";
import { OperationError, operation } from "../operation.js";

/**
 * Updates ignore idempotency keys (a repeat writes a new revision) but can be
 * reverted to the state before a given revision.
 */
export const crmOperations = [
  operation({
    service: "crm",
    name: "getRecord",
    effect: "read",
    honoursIdempotencyKey: false,
    args: z.object({ id: z.string().min(1) }),
    perform: ({ id }, { world }) => {
      const record = world.records.get(id);
      return { id, fields: record?.fields ?? {}, revision: record?.revisions.length ?? 0 };
    },
  }),
  operation({
    service: "crm",
    name: "updateRecord",
    effect: "write",
    honoursIdempotencyKey: false,
    inverse: "crm.revertRecord",
    args: z.object({ id: z.string().min(1), fields: z.record(z.string(), z.unknown()) }),
    perform: ({ id, fields }, { world }) => {
      const record = world.records.get(id) ?? { fields: {}, revisions: [] };
      const before = { ...record.fields };
      record.fields = { ...record.fields, ...fields };
      record.revisions.push({ revision: record.revisions.length + 1, before });
      world.records.set(id, record);
      return { id, revision: record.revisions.length, previous: before };
    },
  }),
  operation({
    service: "crm",
    name: "revertRecord",
    effect: "write",
    honoursIdempotencyKey: true,
    args: z.object({ id: z.string().min(1), revision: z.number().int().positive() }),
    perform: ({ id, revision }, { world }) => {
      const record = world.records.get(id);
      const target = record?.revisions.find((r) => r.revision === revision);
      if (!record || !target)
        throw new OperationError(404, `record ${id} has no revision ${revision}`);
      const before = { ...record.fields };
      record.fields = { ...target.before };
      record.revisions.push({ revision: record.revisions.length + 1, before });
      return { id, revision: record.revisions.length, revertedTo: revision - 1 };
    },
  }),
];
