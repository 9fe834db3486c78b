import { InvalidArgumentError } from "../core/errors.js";
import { storableCopy } from "../core/payload.js";
import { describeValue } from "../core/validate.js";
import { RequestKey } from "../deadletter/loops.js";

/* Argument checks of ctx calls that are not option objects (those are in options.ts). */

/**
 * Runs a synchronous argument check before any step is numbered; a refusal
 * is returned as a rejected promise, as every other ctx failure is.
 */
export function refusal(check: () => unknown): Promise<never> | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * The loop detector's key of a tool call (hashed into a fingerprint only
 * when an error needs one). Arguments it cannot walk (a cycle, a BigInt)
 * are refused as the journal would refuse them, typed; the happy path pays
 * for no extra copy.
 */
export function argsFingerprint(tool: string, args: unknown): RequestKey {
  try {
    return new RequestKey("tool", tool, args);
  } catch (err) {
    storableCopy(args, `the arguments of tool '${tool}'`);
    throw err;
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** `ctx.decide`'s entity and key: non-empty strings a store keeps as given. */
export function checkDecideKey(entity: unknown, key: unknown): void {
  for (const [field, value] of [
    ["entity", entity],
    ["key", key],
  ] as const) {
    if (typeof value !== "string" || value === "" || value.includes("\0"))
      throw new InvalidArgumentError(
        `ctx.decide needs ${field}: a non-empty string, received ${describeValue(value)}`,
        { field },
      );
  }
}
