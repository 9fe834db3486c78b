import { z } from "zod";
import type { Json } from "../../core/json.js";

/** Where a value sits in its payload: the keys and indexes from the payload's root down to it. */
export type PayloadPath = readonly (string | number)[];

/**
 * What Flotilla redacts before a payload is stored (journal, payload blobs,
 * dead letters) or put on a span. `false` stores payloads as they are.
 */
export interface RedactOptions {
  /**
   * Your own patterns; each match in any string of a payload becomes
   * `[REDACTED:custom]`. A pattern without the `g` flag is used as if it had it.
   */
  patterns?: RegExp[];
  /**
   * Called with every leaf of every payload (string, number, boolean, null)
   * after the patterns were applied, with its path from the payload's root
   * (`["card", "number"]` in tool arguments `{ card: { number } }`); returns
   * the value to store. It must be pure and idempotent (it may be given a
   * value it already redacted), and depend on nothing but the value and its
   * path, so the agent sees on replay what it saw the first time. The path
   * array is reused: copy it to keep it. A hook that throws stores
   * `[REDACTED:hook-error]` in place of the value.
   */
  hook?: (value: Json, path: PayloadPath) => Json;
  /**
   * The built-in patterns: API keys (OpenAI/Anthropic `sk-…`, Stripe, AWS
   * `AKIA…`, GitHub `ghp_…`, Slack `xox…-`), bearer tokens, and payment card
   * numbers (13–19 digits, spaces or dashes allowed, Luhn-checked). Default true.
   */
  defaults?: boolean;
}

export const RedactOptionsSchema = z.union([
  z.literal(false),
  z.strictObject({
    patterns: z.array(z.instanceof(RegExp, { message: "must be a RegExp" })).optional(),
    hook: z.function().optional(),
    defaults: z.boolean().optional(),
  }),
]);
