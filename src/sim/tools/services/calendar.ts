import { z } from "zod";
import { OperationError, operation } from "../operation.js";

/** Cancelling an event undoes it, with a side effect of its own: every attendee gets an email. */
export const calendarOperations = [
  operation({
    service: "calendar",
    name: "createEvent",
    effect: "write",
    honoursIdempotencyKey: true,
    inverse: "calendar.cancelEvent",
    inverseSideEffect: "emails a cancellation notice to every attendee",
    args: z.object({
      title: z.string().min(1),
      start: z.string().min(1),
      attendees: z.array(z.string().min(1)).default([]),
    }),
    perform: (args, { world, nextId }) => {
      const id = nextId("ev");
      world.events.set(id, { ...args, cancelled: false });
      return { eventId: id };
    },
  }),
  operation({
    service: "calendar",
    name: "cancelEvent",
    effect: "write",
    honoursIdempotencyKey: true,
    args: z.object({ eventId: z.string().min(1) }),
    perform: ({ eventId }, { world, nextId, sideEffect }) => {
      const event = world.events.get(eventId);
      if (!event) throw new OperationError(404, `no event ${eventId}`);
      if (event.cancelled) throw new OperationError(409, `event ${eventId} is already cancelled`);
      event.cancelled = true;
      for (const to of event.attendees) {
        const email = {
          to,
          subject: `Cancelled: ${event.title}`,
          body: `${event.title} (${event.start}) is cancelled.`,
        };
        const emailId = nextId("em");
        world.sentEmails.set(emailId, email);
        sideEffect("email", "send", email, { emailId });
      }
      return { cancelled: eventId, notified: event.attendees.length };
    },
  }),
  operation({
    service: "calendar",
    name: "listEvents",
    effect: "read",
    honoursIdempotencyKey: false,
    args: z.object({}),
    perform: (_args, { world }) => ({
      events: [...world.events].map(([eventId, e]) => ({ eventId, ...e })),
    }),
  }),
];
