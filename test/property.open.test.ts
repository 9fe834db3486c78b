import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { trace } from "@opentelemetry/api";
import fc from "fast-check";
import { Flotilla, type FlotillaOptions } from "../src/index.js";
import { openStore } from "../src/store/open.js";
import type { Store } from "../src/store/types.js";
import { FakeProvider } from "./helpers/fakeProvider.js";
import {
  anyValue,
  assertInvalid,
  assertNoUnhandled,
  assertPrototypeClean,
  instantClock,
  optionsOf,
  propertyParams,
  settle,
  unknownKey,
  unknownKeysOf,
  validOptionsOf,
  withOwnKeys,
} from "./helpers/property.js";

// A store left unnamed opens ./.flotilla/flotilla.db, and generated store paths are relative:
// all of it lands in a directory of this file's own.
const cwd = process.cwd();
const dir = mkdtempSync(join(tmpdir(), "flotilla-property-open-"));
before(() => process.chdir(dir));
after(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

let shared: Store;
before(async () => {
  shared = await openStore(join(dir, "shared.db"));
  Object.defineProperty(shared, fc.toStringMethod, { value: () => "<shared store>" });
});
after(() => shared.close());

const provider = Object.defineProperty(new FakeProvider(), fc.toStringMethod, {
  value: () => "<provider>",
});
const nat = fc.oneof(fc.constantFrom(0, 1, 2_000), fc.nat({ max: 10_000_000 }));
const limits = validOptionsOf({
  usd: fc.double({ min: 0.01, max: 1e6, noNaN: true }),
  tokens: fc.integer({ min: 1, max: 1e9 }),
  steps: fc.integer({ min: 1, max: 1e6 }),
  wallMs: fc.integer({ min: 1, max: 1e9 }),
});

/** Valid values of every option Flotilla.open documents. */
const VALID: Record<string, fc.Arbitrary<unknown>> = {
  store: fc.oneof(
    { weight: 8, arbitrary: fc.constant(null).map(() => shared) },
    { weight: 1, arbitrary: fc.constantFrom("relative.db", "sqlite:nested/dir/x.db", ":memory:") },
  ),
  providers: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(provider), {
    maxKeys: 2,
  }),
  clock: fc.constantFrom(undefined, instantClock()),
  workerId: fc.string({ minLength: 1, maxLength: 40 }),
  poolSize: fc.integer({ min: 1, max: 1_000 }),
  inlineSleepMs: nat,
  inlineWaitMs: nat,
  outageWaitMs: nat,
  stopGraceMs: nat,
  worker: fc.oneof(
    fc.constant(false),
    validOptionsOf({
      concurrency: fc.integer({ min: 1, max: 10_000 }),
      leaseMs: fc.integer({ min: 50, max: 1e9 }),
      pollMs: fc.integer({ min: 5, max: 1e9 }),
    }),
  ),
  resilience: validOptionsOf({
    defaults: validOptionsOf({ maxAttempts: fc.integer({ min: 1, max: 20 }) }),
    dependencies: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 10 }),
      validOptionsOf({ maxAttempts: fc.integer({ min: 1, max: 20 }) }),
      { maxKeys: 2 },
    ),
  }),
  admission: fc.constant({ acquire: () => Promise.resolve({ release: () => undefined }) }),
  tenantBulkhead: fc.record(
    { concurrency: fc.integer({ min: 1, max: 1_000 }), queue: fc.nat({ max: 1_000 }) },
    { requiredKeys: ["concurrency"] },
  ),
  budgets: validOptionsOf({ run: limits, global: limits }),
  deadLetters: validOptionsOf({ routes: fc.constant({ "loop-detected": { action: "hold" } }) }),
  redact: fc.oneof(fc.constant(false), validOptionsOf({ defaults: fc.boolean() })),
  tracerProvider: fc.constant(trace.getTracerProvider()),
};
const KNOWN = Object.keys(VALID);

/** Wrong values a config file really holds, beside the generic ones. */
const INVALID: Record<string, fc.Arbitrary<unknown>> = {
  store: fc.constantFrom(
    "",
    "   ",
    "mysql://127.0.0.1/app",
    "redis://x",
    "postgres://127.0.0.1:1/none",
    "sqlite:",
    "a\0b.db",
    { commit: 1 },
    { close: () => undefined },
  ),
  providers: fc.constantFrom({ default: {} }, { default: { name: "x" } }, [provider], provider),
  worker: fc.constantFrom(
    true,
    { concurrency: 0 },
    { concurrency: 1.5 },
    { leaseMs: 10 },
    { pollMs: NaN },
    { concurency: 2 },
  ),
  resilience: fc.constantFrom(
    { defaults: { maxAttempts: 0 } },
    { defaults: 3 },
    { dependencies: { x: { breaker: { failureRatio: 2 } } } },
    { dependencies: [] },
    { retries: 3 },
  ),
  tenantBulkhead: fc.constantFrom({ concurrency: 0 }, { concurrency: 2, queue: -1 }, { queue: 1 }),
  budgets: fc.constantFrom({ run: { usd: -1 } }, { run: { steps: 0.5 } }, { perRun: {} }),
  redact: fc.constantFrom(true, { patterns: ["x"] }, { patterns: [/x/], extra: 1 }),
  poolSize: fc.constantFrom(0, 1001, 1.5, NaN, Infinity, "10"),
  inlineSleepMs: fc.constantFrom(-1, NaN, Infinity, -Infinity, "5"),
};

/** Generated store paths stay inside this file's directory: an absolute one is made relative. */
function contained(options: unknown): unknown {
  if (typeof options !== "object" || options === null) return options;
  const store = (options as { store?: unknown }).store;
  if (typeof store !== "string") return options;
  const relative = store.replace(/^((?:sqlite|file):(?:\/\/)?)?[\\/~]+/i, "$1./");
  return withOwnKeys(options as Record<string, unknown>, [
    ["store", relative.replaceAll("..", "__")],
  ]);
}

async function open(given: unknown) {
  const options = contained(given);
  const outcome = await settle(
    `Flotilla.open(${show(options)})`,
    () => Flotilla.open(options as FlotillaOptions),
    10_000,
  );
  if (outcome.ok) await (outcome.value as Flotilla).close();
  return outcome;
}

function show(options: unknown): string {
  try {
    return fc.stringify(options).slice(0, 300);
  } catch {
    return typeof options;
  }
}

async function storeUnchanged(check: () => Promise<void>): Promise<void> {
  const before = await shared.counts();
  await check();
  assert.deepEqual(await shared.counts(), before, "a refused Flotilla.open changed the store");
}

describe("Flotilla.open: any options", () => {
  it("succeeds or throws a FlotillaError; any unknown key is refused", async () => {
    await fc.assert(
      fc.asyncProperty(optionsOf(VALID, INVALID), async (options) => {
        await storeUnchanged(async () => {
          const outcome = await open(options);
          if (unknownKeysOf(options, KNOWN).length > 0)
            assertInvalid("options with an unknown key", outcome);
        });
        assertPrototypeClean();
      }),
      propertyParams(150),
    );
    assertNoUnhandled();
  });

  it("accepts every valid option object", async () => {
    await fc.assert(
      fc.asyncProperty(validOptionsOf(VALID), async (options) => {
        const outcome = await open(options);
        assert.ok(outcome.ok, `refused valid options: ${String(!outcome.ok && outcome.error)}`);
      }),
      propertyParams(100),
    );
    assertNoUnhandled();
  });

  it("names the unknown key in the error, beside valid options", async () => {
    await fc.assert(
      fc.asyncProperty(
        validOptionsOf(VALID),
        unknownKey.filter((k) => !KNOWN.includes(k)),
        anyValue,
        async (options, key, value) => {
          const outcome = await open(withOwnKeys(options, [[key, value]]));
          assertInvalid(`Flotilla.open with unknown key '${key}'`, outcome, key);
        },
      ),
      propertyParams(150),
    );
    assertNoUnhandled();
  });

  it("refuses the spelling mistakes a config file makes", async () => {
    const outcome = await open({ store: shared, workers: 3 });
    assertInvalid("Flotilla.open({ workers: 3 })", outcome, "workers");
    const inner = await open({ store: shared, worker: { concurency: 3 } });
    assertInvalid("Flotilla.open({ worker: { concurency: 3 } })", inner, "concurency");
    for (const [resilience, typo] of [
      [{ defaults: { maxAttempt: 3 } }, "maxAttempt"],
      [{ dependencies: { "llm:default": { breaker: { cooldown: 5 } } } }, "cooldown"],
    ] as const) {
      const policy = await open({ store: shared, resilience });
      assertInvalid(`Flotilla.open({ resilience: ${JSON.stringify(resilience)} })`, policy, typo);
    }
  });
});
