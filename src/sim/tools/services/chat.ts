import { z } from "zod";
import { operation } from "../operation.js";

/** A chat post can be neither deduplicated nor taken back. */
export const chatOperations = [
  operation({
    service: "chat",
    name: "post",
    effect: "write",
    honoursIdempotencyKey: false,
    args: z.object({ channel: z.string().min(1), text: z.string().min(1) }),
    perform: (args, { world, nextId }) => {
      const id = nextId("msg");
      world.chatMessages.set(id, args);
      return { messageId: id };
    },
  }),
];
