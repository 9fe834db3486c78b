import type { z } from "zod";
import type { WorldState } from "./world.js";

/** A failure the service answers with on purpose (unknown id, conflict). */
export class OperationError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface OperationContext {
  world: WorldState;
  /** Deterministic ids: `ch_000001`, `ch_000002`, … */
  nextId: (prefix: string) => string;
  /** Records an effect this operation caused elsewhere (a cancellation email). */
  sideEffect: (service: string, operation: string, args: unknown, result: unknown) => void;
}

/**
 * One endpoint of a simulated service: `POST /{service}/{name}` with JSON
 * arguments. The flags say what a careful client can rely on, and differ on
 * purpose from service to service, as they do in the real world.
 */
export interface Operation<A = never> {
  service: string;
  name: string;
  /** Reads change nothing and are not recorded as effects. */
  effect: "read" | "write";
  /** Whether a repeated `Idempotency-Key` returns the first answer instead of acting again. */
  honoursIdempotencyKey: boolean;
  /** The operation that undoes this one, as "service.name", if any. */
  inverse?: string;
  /** What the inverse does besides undoing (e.g. "emails every attendee"). */
  inverseSideEffect?: string;
  args: z.ZodType<A>;
  perform(args: A, ctx: OperationContext): unknown;
}

/** Erases the argument type so operations of different shapes share one table. */
export function operation<A>(op: Operation<A>): Operation<unknown> {
  return op;
}
