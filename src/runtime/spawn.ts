import {
  InvalidArgumentError,
  RunDeadLetteredError,
  RunFailedError,
  StepFailedError,
  type SerializedError,
} from "../core/errors.js";
import { deriveId } from "../core/ids.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { fingerprint } from "../deadletter/loops.js";
import { classOf } from "../deadletter/taxonomy.js";
import { isTerminal, type RunRecord, type Store } from "../store/types.js";
import { isAgent, type Agent } from "./Agent.js";
import type { Execution } from "./Execution.js";
import { waitInline } from "./inlineWait.js";
import { parseAgentInput } from "./options.js";
import { replayOutcome, type RunContext } from "./RunContext.js";

/**
 * What a parent sees when its child ended badly: a dead-lettered child is a
 * typed error carrying its class (fall back, skip or escalate on it); any
 * other end is a plain run failure.
 */
async function childError(store: Store, child: RunRecord): Promise<SerializedError> {
  if (child.status !== "dead-lettered")
    return new RunFailedError(
      child.id,
      child.error ?? { name: "Error", message: child.status },
    ).toJSON();
  const [entry] = await store.listDeadLetters({ runId: child.id, limit: 1 });
  return new RunDeadLetteredError(
    child.id,
    entry?.class ?? classOf(child.error) ?? "non-retryable",
    entry?.id ?? null,
    child.error,
  ).toJSON();
}

/** The child a `ctx.spawn` started, once it has one: what `ctx.all` stops when a sibling fails. */
export interface SpawnedChild {
  id?: string;
}

/** Longest a parent waits for a child it cancelled to settle; the cancel is durable either way. */
const CHILD_STOP_MS = 30_000;

/**
 * Cancels a child whose result is no longer wanted (a sibling failed, a race
 * was lost) and waits for it to settle, so the parent never moves on while
 * the child can still act. Not while the parent's own execution is stopping
 * or giving its run up: that decides nothing about the child.
 */
export async function stopChild(exec: Execution, childId: string, reason: string): Promise<void> {
  if (!exec.running) return;
  const store = exec.host.store;
  await exec.viaStore(() => store.requestCancel(childId, reason));
  const until = Date.now() + CHILD_STOP_MS;
  for (;;) {
    const run = await exec.viaStore(() => store.getRun(childId));
    if (!run || isTerminal(run.status) || Date.now() >= until) return;
    await exec.host.inlineWaits.settledOrPoll(childId, Math.min(250, until - Date.now()));
  }
}

/** Why a child is cancelled, given why its branch was stopped (a sibling's failure, a lost race). */
export function stopReason(why: unknown): string {
  return `its parent no longer needs it (${why instanceof Error ? why.message : String(why)})`;
}

/**
 * ctx.spawn: starts a child run (journaled with the parent's step, so a crash
 * of either never starts it twice) and waits for its result: in memory for a
 * short while (see waitInline), then suspended until the child ends. A
 * branch stopped while it waits (a sibling failed, a race was lost) cancels
 * the child and waits for it to settle first.
 */
export async function spawnChild<I, O>(
  ctx: RunContext,
  exec: Execution,
  nextStep: () => string,
  agent: Agent<I, O>,
  input: I,
  spawned: SpawnedChild = {},
): Promise<O> {
  if (!isAgent(agent))
    throw new InvalidArgumentError("ctx.spawn needs an agent made by flotilla.agent(name, fn)");
  const parsedInput = storableCopy(
    agent.schema ? parseAgentInput(agent.name, agent.schema, input) : input,
    `the input of agent '${agent.name}'`,
  );
  const step = nextStep();
  const rec = exec.enter(ctx, step, "spawn", agent.name);
  try {
    const fp = fingerprint("spawn", agent.name, parsedInput ?? null);
    exec.watch(rec);
    if (rec?.outcome) {
      const recorded = replayOutcome<O>(step, rec.outcome);
      exec.progress(rec, { fp, value: recorded });
      return recorded;
    }
    const store = exec.host.store;
    let childId = rec?.childId;
    if (!childId) {
      exec.checkSpawn(agent.name);
      childId = deriveId(exec.runId, step);
      await exec.write(
        [{ type: "child.spawned", step, data: { kind: "spawn", name: agent.name, childId } }],
        {
          newRuns: [
            {
              id: childId,
              agent: agent.name,
              // undefined is stored as null, as flotilla.start stores it: the store cannot bind undefined.
              input: (parsedInput ?? null) as Json,
              parentId: exec.runId,
              tenant: exec.run.tenant,
              deadline: exec.deadline ?? null,
              created: exec.childFacts(),
            },
          ],
        },
        // Refused in the same transaction once the run's cancel was requested: no child after a stop.
        true,
      );
    }
    const id = childId;
    spawned.id = id;
    let child: RunRecord | undefined;
    try {
      child = await waitInline(exec, ctx.signal, {
        look: async () => {
          const run = await exec.viaStore(() => store.getRun(id));
          return run && isTerminal(run.status) ? run : undefined;
        },
        wake: (ms) => exec.host.inlineWaits.settledOrPoll(id, ms),
      });
    } catch (err) {
      if (ctx.signal.aborted) await stopChild(exec, id, stopReason(ctx.signal.reason));
      throw err;
    }
    // Journaled before the parent's code sees it, as on replay: a crash from here on resumes alike.
    if (child?.status === "completed") {
      await exec.write([
        {
          type: "step.completed",
          step,
          data: { kind: "spawn", name: agent.name, value: child.result ?? null },
        },
      ]);
      exec.progress(rec, { fp, value: child.result });
      return child.result as O;
    }
    if (child) {
      const error: SerializedError = await exec.viaStore(() => childError(store, child));
      await exec.write([
        {
          type: "step.failed",
          step,
          data: { kind: "spawn", name: agent.name, error: error as unknown as Json },
        },
      ]);
      throw new StepFailedError(step, error);
    }
    try {
      return await exec.block(ctx.signal, `child ${childId}`, null);
    } catch (err) {
      await stopChild(exec, id, stopReason(ctx.signal.reason));
      throw err;
    }
  } finally {
    exec.leave();
  }
}
