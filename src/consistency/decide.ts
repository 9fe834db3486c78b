import { AsyncLocalStorage } from "node:async_hooks";
import { InvalidArgumentError, isFlotillaError } from "../core/errors.js";
import type { RunContext } from "../runtime/RunContext.js";
import { checkJson } from "../state/values.js";
import { DECISIONS, decisionKey, decisionOf } from "./decisions.js";

/** What `ctx.decide` needs from its context: the context, and its execution as an identity. */
export interface DecideScope {
  ctx: RunContext;
  /** One execution of the run: decisions it is making now, by key, live here. */
  exec: object;
}

/**
 * Decisions being made in each execution, by key: a later ask in the same
 * execution waits for the one in flight, then reads its pin, so concurrent
 * branches of one run compute a decision once. Waiting takes no step, so
 * replay does not depend on who waited: the journal holds what each read saw.
 */
const inFlight = new WeakMap<object, Map<string, Promise<void>>>();
/** The decisions whose `fn` the current async context is inside, to refuse asking one from itself. */
const deciding = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * `ctx.decide(entity, key, fn)`: the pinned answer if there is one, else
 * `fn()`'s answer pinned by a create-if-absent compare-and-set in the
 * `flotilla.decisions` region. When another branch, child or run pinned
 * first, its answer is returned and ours is dropped, so every asker gets the
 * same answer. Each read and the pin are journaled state steps, and `fn`'s
 * own steps are journaled too: replay returns the same answer, whatever the
 * pin says by then.
 */
export async function decide<T>(
  scope: DecideScope,
  entity: string,
  key: string,
  fn: () => T | Promise<T>,
): Promise<T> {
  const at = decisionKey(entity, key);
  if (typeof fn !== "function")
    throw new InvalidArgumentError(
      `ctx.decide(${JSON.stringify(entity)}, ${JSON.stringify(key)}, fn) needs fn: a function that returns the answer, received ${typeof fn}`,
      { field: "fn" },
    );
  if (deciding.getStore()?.has(at))
    throw new InvalidArgumentError(
      `ctx.decide(${JSON.stringify(entity)}, ${JSON.stringify(key)}) was asked again from inside its own fn, ` +
        `which would wait for itself: compute the answer without asking for it`,
      { field: "fn", entity, key },
    );
  const release = await turn(scope, at);
  try {
    return await decideNow(scope.ctx, entity, key, at, fn);
  } finally {
    release();
  }
}

async function decideNow<T>(
  ctx: RunContext,
  entity: string,
  key: string,
  at: string,
  fn: () => T | Promise<T>,
): Promise<T> {
  const pins = ctx.state(DECISIONS);
  const pinned = await pins.read(at);
  if (pinned) return decisionOf(pinned).value as T;
  const held = new Set(deciding.getStore());
  held.add(at);
  const answer = await deciding.run(held, fn);
  const mine = checkJson(
    answer,
    `the answer fn gave ctx.decide(${JSON.stringify(entity)}, ${JSON.stringify(key)})`,
  );
  try {
    await pins.write(at, { entity, key, value: mine }, { ifVersion: 0 });
    return mine as T;
  } catch (err) {
    if (!isFlotillaError(err, "FLOTILLA_STATE_CONFLICT")) throw err;
  }
  // Another branch, child or run pinned first: theirs is the answer.
  const theirs = await pins.read(at);
  if (!theirs) throw new Error(`the pin '${at}' lost its compare-and-set but cannot be read`);
  return decisionOf(theirs).value as T;
}

/** Waits until no decision on `at` is in flight in this execution; returns the release of ours. */
async function turn(scope: DecideScope, at: string): Promise<() => void> {
  let byKey = inFlight.get(scope.exec);
  if (!byKey) inFlight.set(scope.exec, (byKey = new Map<string, Promise<void>>()));
  const before = byKey.get(at);
  let release!: () => void;
  const ours = new Promise<void>((resolve) => (release = resolve));
  const tail = before ? before.then(() => ours) : ours;
  byKey.set(at, tail);
  const done = () => {
    release();
    if (byKey.get(at) === tail) byKey.delete(at);
  };
  if (before) {
    try {
      await untilAborted(before, scope.ctx.signal);
    } catch (err) {
      done();
      throw err;
    }
  }
  return done;
}

function untilAborted(wait: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    void wait.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
