import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { isFlotillaError } from "../../src/core/errors.js";
import { SqliteDriver } from "../../src/store/sqlite/driver.js";

/**
 * Property-based checks of the public entries: whatever a caller passes, the
 * outcome is a success or a thrown FlotillaError, never a TypeError, a hang
 * or an unhandled rejection, and a refused call leaves the store as it was.
 *
 * `FLOTILLA_PROPERTY_RUNS=10000` sizes every property for a nightly run, that
 * many cases per entry (the default keeps CI fast); `FLOTILLA_SEED=<seed>` replays the run whose seed a
 * failure printed (add `FLOTILLA_PATH=<path>` to replay one counterexample).
 */
export function propertyParams<T>(ciRuns: number, entries = 1): fc.Parameters<T> {
  const runs = Number(process.env.FLOTILLA_PROPERTY_RUNS);
  const seed = process.env.FLOTILLA_SEED;
  const path = process.env.FLOTILLA_PATH;
  return {
    // A property whose cases spread over several entries runs that many times as many.
    numRuns: Number.isInteger(runs) && runs > 0 ? runs * entries : ciRuns,
    ...(seed !== undefined && seed !== "" ? { seed: Number(seed) } : {}),
    ...(path !== undefined && path !== "" ? { path } : {}),
    // Shrinking replays cases against shared state; a short first counterexample is enough.
    endOnFailure: process.env.FLOTILLA_SHRINK !== "1",
    includeErrorInReport: true,
  };
}

/** An error thrown by code the test itself passed in (a tool, a branch, a schema): passed through as is. */
export class UserThrown extends Error {
  readonly userThrown = true;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Runs one call, failing the property if it hangs, throws anything but a
 * FlotillaError with a FLOTILLA_* code (or the test's own UserThrown), or
 * leaves an unhandled rejection behind.
 */
export async function settle(
  what: string,
  call: () => unknown,
  timeoutMs = 5_000,
): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new assert.AssertionError({ message: `${what} did not settle in ${timeoutMs} ms` })),
      timeoutMs,
    );
  });
  let outcome: Outcome;
  try {
    const value: unknown = await Promise.race([Promise.resolve().then(call), hung]);
    outcome = { ok: true, value };
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    outcome = { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
  if (!outcome.ok) assertTyped(what, outcome.error);
  return outcome;
}

/** A FlotillaError with a stable FLOTILLA_* code, or an error the test's own code threw. */
export function assertTyped(what: string, error: unknown): void {
  if (isUserThrown(error)) return;
  if (
    isFlotillaError(error) &&
    typeof error.code === "string" &&
    /^FLOTILLA_[A-Z_]+$/.test(error.code)
  )
    return;
  const shown =
    error instanceof Error
      ? `${error.name}: ${error.message}\n${error.stack ?? ""}`
      : String(error);
  assert.fail(`${what} threw something other than a FlotillaError: ${shown}`);
}

function isUserThrown(error: unknown): boolean {
  if (error instanceof UserThrown) return true;
  // A user's error from a step comes back as a StepFailedError naming it.
  if (!isFlotillaError(error)) return false;
  const recorded = error.details.error as { name?: unknown } | undefined;
  return error.name === "UserThrown" || recorded?.name === "UserThrown";
}

/** Codes that refuse a call's input: nothing may have been written before them. */
const INPUT_REFUSALS = new Set<string>([
  "FLOTILLA_INVALID_ARGUMENT",
  "FLOTILLA_PAYLOAD_REJECTED",
  "FLOTILLA_NOT_FOUND",
  "FLOTILLA_NO_PROVIDER",
  "FLOTILLA_UNKNOWN_AGENT",
  "FLOTILLA_UNKNOWN_TOOL",
  "FLOTILLA_STATE_UNKNOWN_REGION",
  "FLOTILLA_STATE_WRONG_ISOLATION",
]);

/**
 * True for a refusal of the input: a typed input-refusal code that is not a
 * journaled step failure. (A conflict, a lost claim or a failed step is an
 * outcome of work done, which may have been journaled.)
 */
export function isRefusal(outcome: Outcome): boolean {
  return (
    !outcome.ok &&
    isFlotillaError(outcome.error) &&
    INPUT_REFUSALS.has(outcome.error.code) &&
    !("step" in outcome.error.details)
  );
}

/** Fails the property when a refusal named no field or key the caller could fix. */
export function assertInvalid(what: string, outcome: Outcome, mentions?: string): void {
  assert.ok(!outcome.ok, `${what} was accepted`);
  assert.ok(
    isFlotillaError(outcome.error, "FLOTILLA_INVALID_ARGUMENT"),
    `${what} failed with ${String(outcome.error)}, not FLOTILLA_INVALID_ARGUMENT`,
  );
  if (mentions !== undefined)
    assert.ok(
      outcome.error.message.includes(mentions),
      `${what}: the error '${outcome.error.message}' does not name '${mentions}'`,
    );
}

const unhandled: unknown[] = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

/** Fails when a rejection went unhandled since the last look (a dropped promise is a lost effect). */
export function assertNoUnhandled(): void {
  const seen = unhandled.splice(0);
  assert.deepEqual(
    seen.map((r) => (r instanceof Error ? `${r.name}: ${r.message}` : String(r))),
    [],
    "unhandled rejections",
  );
}

/** Fails when something set a property on Object.prototype (a `__proto__` key merged unsafely). */
export function assertPrototypeClean(): void {
  const probe = {} as Record<string, unknown>;
  for (const key of ["polluted", "isAdmin", "x"])
    assert.equal(probe[key], undefined, `Object.prototype.${key} was set`);
}

/**
 * A SQLite store path in a fresh directory, and its removal: call `remove`
 * after closing the Flotilla on it (tempStore's own cleanup may run first).
 */
export function propertyStore(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-property-"));
  return {
    path: join(dir, "flotilla.db"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---- stores -----------------------------------------------------------------

/** Tables written only by background work (heartbeats, ownership): not part of "unchanged". */
const BACKGROUND = new Set(["dependency_state", "worker_owner", "budget_reservations"]);

/**
 * Row counts of every table of a SQLite store, read through a connection of
 * its own: what a refused call must leave exactly as it was.
 */
export function storeCounter(path: string): { counts(): Record<string, number>; close(): void } {
  const db = new SqliteDriver(path, { readonly: true, fileMustExist: true });
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  )
    .map((t) => t.name)
    .filter((t) => !BACKGROUND.has(t) && !t.startsWith("sqlite_"));
  const statements = tables.map(
    (t) => [t, db.prepare(`SELECT count(*) AS n FROM "${t}"`)] as const,
  );
  return {
    counts: () => Object.fromEntries(statements.map(([t, s]) => [t, (s.get() as { n: number }).n])),
    close: () => db.close(),
  };
}

// ---- arbitraries -------------------------------------------------------------

const cyclic = (): object => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};

/** A string over the 4 MiB payload limit once stored as JSON. */
export const HUGE_STRING = "x".repeat(4 * 1024 * 1024 + 16);

export const weirdNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    NaN,
    Infinity,
    -Infinity,
    -0,
    0,
    -1,
    1,
    0.5,
    -1e9,
    2 ** 31,
    2 ** 53,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
  ),
  fc.double(),
  fc.integer(),
);

export const protoKey: fc.Arbitrary<string> = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
);

export const weirdString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 40 }),
  protoKey,
  fc.constantFrom("", " ", "\0", "a\0b", "\uD800", "x".repeat(300), "é".repeat(70_000)),
);

/** Values JSON cannot hold, or holds lossily: what an input or a payload must refuse or survive. */
export const nonJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    () => 1,
    async () => Promise.resolve(1),
    function named() {},
    class Klass {},
    Symbol("s"),
    10n,
    new Date(NaN),
    new Date(0),
    new Map([[1, 2]]),
    new Set([1]),
    new Uint8Array(3),
    new ArrayBuffer(2),
    /re/g,
    new Error("an error value"),
    Object.create(null) as object,
    [undefined],
    { a: undefined },
    { b: 1n },
    // eslint-disable-next-line no-sparse-arrays -- a hole is what is being tested
    [1, , 3],
  ),
  fc.constant(null).map(cyclic),
  fc.constant(null).map(() => [cyclic()]),
);

/** Objects built from JSON text whose keys would pollute a prototype if merged with `=`. */
export const pollutingObject: fc.Arbitrary<unknown> = fc
  .constantFrom(
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"isAdmin":true}}}',
    '{"a":{"__proto__":{"x":1}}}',
    '{"__proto__":null}',
  )
  .map((text) => JSON.parse(text) as unknown);

/** Anything a caller could pass: JSON, non-JSON, odd numbers and strings, polluting keys. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 2,
    arbitrary: fc.anything({
      maxDepth: 2,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withSparseArray: true,
      withBoxedValues: true,
      withObjectString: true,
    }),
  },
  { weight: 2, arbitrary: weirdNumber },
  { weight: 2, arbitrary: weirdString },
  { weight: 2, arbitrary: nonJson },
  { weight: 1, arbitrary: pollutingObject },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, true, false, [], {}) },
);

/** Keys an options object must not carry: typos, prototype keys, keys of other option objects. */
export const unknownKey: fc.Arbitrary<string> = fc.oneof(
  protoKey.filter((k) => k !== "__proto__"),
  fc.constantFrom(
    "workers",
    "timeout",
    "retries",
    "storeUrl",
    "concurency",
    "deadline",
    "name",
    "x",
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);

/** Sets keys with defineProperty, so `__proto__` becomes an own key, as JSON.parse makes it. */
export function withOwnKeys(
  base: Record<string, unknown>,
  extra: [string, unknown][],
): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of extra)
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/**
 * Option objects over `known` fields: each field present or not, valid or
 * any value; sometimes with unknown keys; sometimes not an object at all.
 */
export function optionsOf(
  known: Record<string, fc.Arbitrary<unknown>>,
  invalid: Record<string, fc.Arbitrary<unknown>> = {},
): fc.Arbitrary<unknown> {
  const names = Object.keys(known);
  const fields = Object.fromEntries(
    Object.entries(known).map(([k, valid]) => [
      k,
      fc.oneof(
        { weight: 3, arbitrary: valid },
        { weight: 1, arbitrary: invalid[k] ?? anyValue },
        { weight: 1, arbitrary: anyValue },
      ),
    ]),
  );
  const objects = fc
    .tuple(
      fc.record(fields, { requiredKeys: [] }),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant<[string, unknown][]>([]) },
        {
          weight: 1,
          arbitrary: fc.array(
            fc.tuple(
              unknownKey.filter((k) => !names.includes(k)),
              anyValue,
            ),
            { minLength: 1, maxLength: 2 },
          ),
        },
      ),
    )
    .map(([base, extra]) => withOwnKeys(base, extra));
  return fc.oneof(
    { weight: 8, arbitrary: objects },
    { weight: 1, arbitrary: anyValue },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null) },
  );
}

/** Valid option objects only: every present field drawn from its valid values. */
export function validOptionsOf(
  known: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(known, { requiredKeys: [] });
}

/** Own keys of `value` that are not in `known` (the first unknown key an options check must name). */
export function unknownKeysOf(value: unknown, known: readonly string[]): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return Object.keys(value).filter((k) => !known.includes(k));
}

/** A fake clock whose sleeps end at once and move time forward: sleeps never block a property. */
export function instantClock(): {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
} {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: (ms, signal) => {
      signal?.throwIfAborted();
      offset += Math.max(0, ms);
      return Promise.resolve();
    },
  };
}
