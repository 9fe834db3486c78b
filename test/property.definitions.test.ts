import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { Flotilla } from "../src/index.js";
import type { Agent } from "../src/runtime/Agent.js";
import {
  anyValue,
  assertInvalid,
  assertNoUnhandled,
  assertPrototypeClean,
  HUGE_STRING,
  isRefusal,
  optionsOf,
  propertyParams,
  propertyStore,
  settle,
  storeCounter,
  unknownKeysOf,
  UserThrown,
  weirdNumber,
  weirdString,
} from "./helpers/property.js";

const temp = propertyStore();
const path = temp.path;
const otherTemp = propertyStore();
let f: Flotilla;
let other: Flotilla;
let counter: ReturnType<typeof storeCounter>;
before(async () => {
  // No worker: started runs stay pending, so each case sees the store exactly as the call left it.
  f = await Flotilla.open({ store: path, worker: false });
  other = await Flotilla.open({ store: otherTemp.path, worker: false });
  counter = storeCounter(path);
});
after(async () => {
  counter?.close();
  try {
    await f?.close();
    await other?.close();
  } finally {
    temp.remove();
    otherTemp.remove();
  }
});

/** Fails the property when a refused call changed any table of the store. */
async function unchangedWhenRefused(what: string, call: () => unknown, timeoutMs?: number) {
  const before = counter.counts();
  const outcome = await settle(what, call, timeoutMs);
  if (isRefusal(outcome))
    assert.deepEqual(counter.counts(), before, `${what} was refused but changed the store`);
  assertPrototypeClean();
  return outcome;
}

const fn = () => Promise.resolve(1);
const validName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,30}$/);
const anyName = fc.oneof(validName, weirdString, anyValue);
const thrower = {
  parse: () => {
    throw new UserThrown("custom schema refused");
  },
};
const schemaLike = fc.constantFrom<unknown>(
  z.object({ n: z.number() }),
  z.string(),
  z.any(),
  thrower,
  { parse: (v: unknown) => v },
);

let seq = 0;
/** A name not used yet on this instance, unless the case asks to collide. */
const unique = (name: unknown) =>
  typeof name === "string" && /^[A-Za-z0-9]/.test(name) ? `${name.slice(0, 20)}-${seq++}` : name;

const TOOL = {
  effect: fc.constantFrom("read", "idempotent", "compensable", "irreversible"),
  description: fc.string(),
  schema: schemaLike,
  key: fc.constant((a: unknown) => JSON.stringify(a)),
  run: fc.constant(fn),
  compensate: fc.constant(fn),
  undoSideEffect: fc.string({ minLength: 1, maxLength: 500 }),
  reconcile: fc.constant(() => Promise.resolve({ status: "unknown" as const })),
  classify: fc.constant(() => undefined),
  timeoutMs: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  rateLimited: fc.boolean(),
  bulkhead: fc.record(
    { concurrency: fc.integer({ min: 1, max: 100 }), queue: fc.nat(100) },
    { requiredKeys: ["concurrency"] },
  ),
  approval: fc.boolean(),
  defer: fc.constant("end-of-run"),
};
const TOOL_INVALID = {
  effect: fc.constantFrom("write", "", "READ", null),
  timeoutMs: fc.oneof(weirdNumber, fc.constantFrom(0, 2 ** 31, "100")),
  bulkhead: fc.constantFrom({ concurrency: 0 }, { concurrency: 1, queue: -1 }, { size: 1 }, 3),
  defer: fc.constantFrom("end-of-step", true, "later"),
  undoSideEffect: fc.constantFrom("", "x".repeat(501)),
};

const AGENT = {
  schema: schemaLike,
  loops: fc.oneof(fc.constant(false), fc.constant({})),
  version: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,10}$/),
  compatibleWith: fc.array(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,10}$/), {
    maxLength: 3,
  }),
};

const START = {
  idempotencyKey: fc.string({ minLength: 1, maxLength: 20 }),
  tenant: fc.string({ minLength: 1, maxLength: 20 }),
  deadlineMs: fc.integer({ min: 1, max: 1e9 }),
  budget: fc.record(
    {
      usd: fc.double({ min: 0.01, max: 100, noNaN: true }),
      steps: fc.integer({ min: 1, max: 100 }),
    },
    { requiredKeys: [] },
  ),
};
const START_INVALID = {
  idempotencyKey: fc.constantFrom("", 1, null),
  tenant: fc.constantFrom("", 42, {}),
  deadlineMs: fc.oneof(weirdNumber, fc.constantFrom(0, -5, 1e300)),
  budget: fc.constantFrom({ usd: -1 }, { steps: 0 }, { dollars: 1 }, 5),
};

describe("flotilla.tool(name, spec): any name and spec", () => {
  it("defines the tool or throws a FlotillaError; unknown spec keys are refused", async () => {
    await fc.assert(
      fc.asyncProperty(anyName, optionsOf(TOOL, TOOL_INVALID), async (name, spec) => {
        const outcome = await unchangedWhenRefused("flotilla.tool", () =>
          f.tool(unique(name) as string, spec as never),
        );
        if (unknownKeysOf(spec, Object.keys(TOOL)).length > 0)
          assertInvalid("a tool spec with an unknown key", outcome);
      }),
      propertyParams(300),
    );
    assertNoUnhandled();
  });

  it("refuses a spec key it does not know, by name", () => {
    assert.throws(
      () => f.tool("typo", { effect: "read", run: fn, timeout: 5 } as never),
      (err: Error) => err.message.includes("timeout"),
    );
  });
});

describe("flotilla.agent(name, fn, options): any arguments", () => {
  it("defines the agent or throws a FlotillaError; unknown option keys are refused", async () => {
    await fc.assert(
      fc.asyncProperty(
        anyName,
        fc.oneof(fc.constant(fn), anyValue),
        optionsOf(AGENT),
        async (name, body, options) => {
          const outcome = await unchangedWhenRefused("flotilla.agent", () =>
            f.agent(unique(name) as string, body as never, options as never),
          );
          if (unknownKeysOf(options, Object.keys(AGENT)).length > 0)
            assertInvalid("agent options with an unknown key", outcome);
        },
      ),
      propertyParams(300),
    );
    assertNoUnhandled();
  });
});

describe("flotilla.start(agent, input, options): any arguments", () => {
  it("starts a run or throws a FlotillaError, and a refusal writes nothing", async () => {
    const agents: unknown[] = [
      f.agent("plain", fn),
      f.agent("typed", fn, { schema: z.object({ n: z.number() }) }),
      f.agent("custom", fn, { schema: thrower }),
      other.agent("foreign", fn),
    ];
    const input = fc.oneof(
      { weight: 20, arbitrary: anyValue },
      { weight: 2, arbitrary: fc.record({ n: weirdNumber }) },
      { weight: 1, arbitrary: fc.constant(HUGE_STRING) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...agents) },
          { weight: 1, arbitrary: anyValue },
        ),
        input,
        optionsOf(START, START_INVALID),
        async (agent, given, options) => {
          const outcome = await unchangedWhenRefused("flotilla.start", () =>
            f.start(agent as Agent, given, options as never),
          );
          if (unknownKeysOf(options, Object.keys(START)).length > 0)
            assertInvalid("start options with an unknown key", outcome);
          if (outcome.ok) assert.ok(await f.store.getRun((outcome.value as { id: string }).id));
        },
      ),
      propertyParams(300),
    );
    assertNoUnhandled();
  });
});

/**
 * `compensate: true` then waits for an undo run, which no worker executes here
 * (worker: false), until the call's timeout: left out, so a case takes
 * milliseconds (saga.undo.test.ts checks that wait ends).
 */
function withoutUndo(options: unknown): unknown {
  if (typeof options !== "object" || options === null) return options;
  if ((options as { compensate?: unknown }).compensate !== true) return options;
  return { ...options, compensate: false };
}

describe("run and operator calls on Flotilla: any arguments", () => {
  it("signal, cancel, retry and resolveEffect succeed or throw a FlotillaError; refusals write nothing", async () => {
    const agent = f.agent("target", fn);
    const runId = fc.oneof(
      { weight: 3, arbitrary: fc.constant("fresh") },
      { weight: 1, arbitrary: fc.constantFrom("run_missing", "") },
      { weight: 1, arbitrary: anyValue },
    );
    const CANCEL = {
      reason: fc.string(),
      timeoutMs: fc.integer({ min: 1, max: 10_000 }),
      compensate: fc.constant(false),
    };
    const call = fc.oneof(
      fc.record({
        op: fc.constant("signal" as const),
        name: fc.oneof(fc.string(), anyValue),
        payload: anyValue,
      }),
      fc.record({
        op: fc.constant("cancel" as const),
        options: fc.oneof(optionsOf(CANCEL), fc.string()),
      }),
      fc.record({
        op: fc.constant("retry" as const),
        options: optionsOf({ by: fc.string(), reason: fc.string() }),
      }),
      fc.record({
        op: fc.constant("resolve" as const),
        step: fc.oneof(fc.constantFrom("0", "1"), anyValue),
        decision: fc.oneof(
          fc.constantFrom(
            { outcome: "committed" },
            { outcome: "retry" },
            { outcome: "failed", reason: "r" },
            "committed",
          ),
          anyValue,
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(runId, call, async (id, c) => {
        const target = id === "fresh" ? (await f.start(agent, null)).id : id;
        const handle = f.handle(target as string);
        const outcome = await unchangedWhenRefused(
          `${c.op}`,
          () => {
            switch (c.op) {
              case "signal":
                return handle.signal(c.name as string, c.payload as never);
              case "cancel":
                return handle.cancel(withoutUndo(c.options) as never);
              case "retry":
                return handle.retry(c.options as never);
              case "resolve":
                return f.resolveEffect(target as string, c.step as string, c.decision as never);
            }
          },
          20_000,
        );
        if (c.op === "cancel" && unknownKeysOf(c.options, Object.keys(CANCEL)).length > 0)
          assertInvalid("cancel options with an unknown key", outcome);
      }),
      propertyParams(200, 4),
    );
    assertNoUnhandled();
  });
});
