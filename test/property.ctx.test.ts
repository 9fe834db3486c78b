import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { Flotilla, region } from "../src/index.js";
import type { RunContext } from "../src/runtime/RunContext.js";
import type { RunHandle } from "../src/runtime/RunHandle.js";
import { FakeProvider } from "./helpers/fakeProvider.js";
import {
  anyValue,
  assertInvalid,
  assertNoUnhandled,
  assertPrototypeClean,
  instantClock,
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
  type Outcome,
} from "./helpers/property.js";

/**
 * One long run executes every generated ctx call: its body takes calls from
 * a queue and hands back each outcome, so a case costs a call, not a run.
 */
type Op = (ctx: RunContext) => unknown;
const queue: { op: Op; done: (o: Outcome) => void }[] = [];
let wake: (() => void) | undefined;
let stopped = false;

const temp = propertyStore();
const path = temp.path;
let f: Flotilla;
let run: RunHandle<string>;
let counter: ReturnType<typeof storeCounter>;
const regions = {
  counter: region("p.counter", { isolation: "findings", reducer: "counter" }),
  doc: region("p.doc", { isolation: "doc" }),
  scratch: region("p.scratch", { isolation: "scratch" }),
  claim: region("p.claim", { isolation: "claim" }),
};
let tools: unknown[] = [];
let children: unknown[] = [];

before(async () => {
  f = await Flotilla.open({
    store: path,
    clock: instantClock(),
    // Sleeps end at once on the fake clock, and none is long enough to release the worker.
    inlineSleepMs: 2 ** 53,
    // A spawn waits for its child in memory, however loaded the machine: the host run never suspends.
    inlineWaitMs: 3_600_000,
    providers: { default: new FakeProvider() },
    worker: { concurrency: 8 },
  });
  tools = [
    f.tool("p.read", { effect: "read", run: (a) => Promise.resolve(a) }),
    f.tool("p.idempotent", { effect: "idempotent", run: () => Promise.resolve("done") }),
    f.tool("p.typed", {
      effect: "read",
      schema: z.object({ n: z.number() }),
      run: (a) => Promise.resolve(a.n),
    }),
    f.tool("p.throws", {
      effect: "read",
      run: () => Promise.reject(new UserThrown("the tool failed")),
    }),
  ];
  children = [
    f.agent("p.child", (_ctx, input: unknown) => Promise.resolve(input), { loops: false }),
    f.agent("p.typedChild", (_ctx, input: { n: number }) => Promise.resolve(input.n), {
      schema: z.object({ n: z.number() }),
      loops: false,
    }),
  ];
  const host = f.agent(
    "p.host",
    async (ctx) => {
      for (;;) {
        while (queue.length === 0 && !stopped) await new Promise<void>((r) => (wake = r));
        const job = queue.shift();
        if (!job) return "stopped";
        try {
          job.done({ ok: true, value: await job.op(ctx) });
        } catch (error) {
          job.done({ ok: false, error });
        }
      }
    },
    { loops: false },
  );
  run = await f.start(host, null);
  counter = storeCounter(path);
});

after(async () => {
  stopped = true;
  wake?.();
  try {
    if (run) assert.equal(await run.result({ timeoutMs: 10_000 }), "stopped");
  } finally {
    counter?.close();
    await f?.close();
    temp.remove();
  }
});

function inRun(op: Op): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // The call's own rejection reason, FlotillaError or not, is what the property judges.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    queue.push({ op, done: (o) => (o.ok ? resolve(o.value) : reject(o.error)) });
    wake?.();
  });
}

/** Runs one generated call in the host run; a refusal must leave every table as it was. */
async function check(what: string, op: Op, boundary = true): Promise<Outcome> {
  const before = counter.counts();
  const outcome = await settle(what, () => inRun(op), 10_000);
  if (boundary && isRefusal(outcome))
    assert.deepEqual(counter.counts(), before, `${what} was refused but changed the store`);
  assertPrototypeClean();
  return outcome;
}

const signalName = (name: unknown): name is string =>
  typeof name === "string" && name !== "" && !name.includes("\0") && !/\p{Cs}/u.test(name);

const msg = { role: "user", content: "hello" };
const request = fc.oneof(
  fc.record(
    {
      model: fc.oneof(fc.constant("m"), anyValue),
      messages: fc.oneof(
        fc.constant([msg]),
        fc.array(fc.oneof(fc.constant(msg), anyValue), { maxLength: 3 }),
        anyValue,
      ),
      maxTokens: fc.oneof(fc.integer({ min: 1, max: 100 }), weirdNumber),
      temperature: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), weirdNumber),
    },
    { requiredKeys: ["model", "messages"] },
  ),
  anyValue,
);
const LLM = {
  name: fc.string({ minLength: 1, maxLength: 20 }),
  deadlineMs: fc.integer({ min: 1, max: 1e9 }),
  provider: fc.constant("default"),
  samples: fc.integer({ min: 1, max: 2 }),
};
const CALL = { deadlineMs: fc.integer({ min: 1, max: 1e9 }) };
const WAIT = { timeoutMs: fc.integer({ min: 0, max: 1e9 }) };
const ms = fc.oneof(fc.nat({ max: 1e9 }), anyValue);

/** Items of ctx.all / ctx.race: step promises, branches that return or throw, and junk. */
const STEP = "<a started ctx.now() step>";
const item = fc.oneof(
  fc.constant(STEP),
  fc.constant((ctx: RunContext) => ctx.now()),
  anyValue.map((v) => () => Promise.resolve(v)),
  fc.constant(() => Promise.reject(new UserThrown("a branch failed"))),
  // Any function is a branch, and what it throws (a class called without new) is its own error.
  anyValue.filter((v) => typeof v !== "function"),
);
const items = fc.oneof(
  { weight: 4, arbitrary: fc.array(item, { maxLength: 4 }) },
  { weight: 1, arbitrary: anyValue },
);
/** Step promises are started inside the run, when the case runs there. */
const started = (ctx: RunContext, list: unknown): unknown =>
  Array.isArray(list) ? list.map((x: unknown) => (x === STEP ? ctx.now() : x)) : list;

const decideFn = fc.oneof(
  anyValue.map((v) => () => v),
  fc.constant(() => Promise.reject(new UserThrown("decide fn failed"))),
  // A generated function is the caller's fn, and what it throws is its own error.
  anyValue.filter((v) => typeof v !== "function"),
);

const stateCall = fc.record({
  region: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...Object.values(regions), "p.counter", "p.doc") },
    { weight: 1, arbitrary: fc.oneof(weirdString, anyValue) },
  ),
  method: fc.constantFrom("write", "read", "history", "take", "done", "release", "put", "update"),
  args: fc.array(
    fc.oneof(
      fc.constantFrom("k", "k2", 1, { verified: true }, { ifVersion: 0 }, [{ id: "a", value: 1 }]),
      anyValue,
    ),
    { maxLength: 3 },
  ),
});

const cases = fc.oneof(
  fc.record({ kind: fc.constant("sleep" as const), ms }),
  fc.record({
    kind: fc.constant("waitFor" as const),
    name: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), anyValue),
    options: optionsOf(WAIT),
  }),
  fc.record({ kind: fc.constant("llm" as const), request, options: optionsOf(LLM) }),
  fc.record({
    kind: fc.constant("call" as const),
    tool: fc.oneof(fc.nat(3), anyValue),
    args: anyValue,
    options: optionsOf(CALL),
  }),
  fc.record({
    kind: fc.constant("spawn" as const),
    agent: fc.oneof(fc.nat(1), anyValue),
    input: anyValue,
  }),
  fc.record({ kind: fc.constant("all" as const), items }),
  fc.record({ kind: fc.constant("race" as const), items }),
  fc.record({
    kind: fc.constant("decide" as const),
    entity: fc.oneof(fc.string(), anyValue),
    key: fc.oneof(fc.string(), anyValue),
    fn: decideFn,
  }),
  fc.record({ kind: fc.constant("state" as const), call: stateCall }),
  fc.record({ kind: fc.constantFrom("now" as const, "random" as const) }),
);
/** Entries the cases spread over (sleep, waitFor, llm, call, spawn, all, race, decide, state, now/random). */
const CASE_KINDS = 10;
type Case = typeof cases extends fc.Arbitrary<infer C> ? C : never;

function opOf(c: Case): Op {
  switch (c.kind) {
    case "sleep":
      return (ctx) => ctx.sleep(c.ms as number);
    case "waitFor":
      return (ctx) => ctx.waitFor(c.name as string, c.options as never);
    case "llm":
      return (ctx) => ctx.llm(c.request as never, c.options as never);
    case "call":
      return (ctx) =>
        ctx.call(
          (typeof c.tool === "number" ? tools[c.tool] : c.tool) as never,
          c.args,
          c.options as never,
        );
    case "spawn":
      return (ctx) =>
        ctx.spawn((typeof c.agent === "number" ? children[c.agent] : c.agent) as never, c.input);
    case "all":
      return (ctx) => ctx.all(started(ctx, c.items) as never);
    case "race":
      return (ctx) => ctx.race(started(ctx, c.items) as never);
    case "decide":
      return (ctx) => ctx.decide(c.entity as string, c.key as string, c.fn as never);
    case "state":
      return (ctx) => {
        const handle = ctx.state(c.call.region as never) as unknown as Record<string, unknown>;
        const method = handle[c.call.method];
        if (typeof method !== "function") return `no ${c.call.method}`;
        return (method as (...a: unknown[]) => unknown).apply(handle, c.call.args);
      };
    case "now":
      return (ctx) => ctx.now();
    case "random":
      return (ctx) => ctx.random();
  }
}

/**
 * Whether a refusal of this case must come before any step. decide reads the
 * pin (a journaled step) before it calls fn, so an answer refused as not JSON
 * comes after that read; its arguments are still checked before it.
 */
function refusedAtBoundary(c: Case): boolean {
  if (c.kind !== "decide") return true;
  const text = (v: unknown) => typeof v === "string" && v !== "";
  return !(text(c.entity) && text(c.key) && typeof c.fn === "function");
}

const KNOWN: Partial<Record<Case["kind"], string[]>> = {
  waitFor: Object.keys(WAIT),
  llm: [...Object.keys(LLM), "onFailure", "output", "relevant"],
  call: Object.keys(CALL),
};

describe("ctx calls inside a running agent: any arguments", () => {
  it("each call succeeds or throws a FlotillaError, never hangs, and a refusal writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        // A signal is there to take for every valid name: a valid waitFor returns at once.
        if (c.kind === "waitFor" && signalName(c.name)) await f.signal(run.id, c.name, null);
        const outcome = await check(`ctx.${c.kind}`, opOf(c), refusedAtBoundary(c));
        const options = (c as { options?: unknown }).options;
        const known = KNOWN[c.kind];
        if (known && unknownKeysOf(options, known).length > 0)
          assertInvalid(`ctx.${c.kind} options with an unknown key`, outcome);
      }),
      propertyParams(400, CASE_KINDS),
    );
    assertNoUnhandled();
    assert.equal((await run.status()).status, "running", "the host run ended early");
  });
});
