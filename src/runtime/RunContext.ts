import { LazyLinkedAbort, linkedAbort, signalOf, type AbortSource } from "../core/abort.js";
import {
  isFlotillaError,
  InvalidArgumentError,
  StepFailedError,
  serializeError,
} from "../core/errors.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { isTool, type Tool } from "../effects/Tool.js";
import { deferCall } from "../effects/deferred.js";
import { gatedEffect } from "../effects/gate.js";
import type { StepKind, StepOutcome, StepRecord } from "../journal/JournalIndex.js";
import type { LlmRequest } from "../providers/types.js";
import type { LlmPolicy, LlmResult } from "./llmCall.js";
import type { Blob } from "../store/types.js";
import type { StepSeen } from "../deadletter/loops.js";
import type { Agent } from "./Agent.js";
import type { Execution } from "./Execution.js";
import { checkToolArgs, readTool } from "./toolStep.js";
import { spawnChild, type SpawnedChild } from "./spawn.js";
import { sleepStep, waitForSignal } from "./waits.js";
import { checkLlmRequest } from "./llmRequest.js";
import { llmSeen } from "./llmSeen.js";
import { callModel, replayModel } from "./llmStep.js";
import { openState, STATE_STEP } from "../state/StateHandle.js";
import type { Region } from "../state/regions.js";
import type { StateFor } from "../state/types.js";
import { decide } from "../consistency/decide.js";
import { reconcile, RECONCILE_STEP } from "../consistency/reconcile.js";
import type { Reconciled, ReconcileOptions, ReconcileStepRunner } from "../consistency/types.js";
import { redactorOf } from "../telemetry/redaction/Redactor.js";
import {
  checkSignalName,
  checkSleepMs,
  parseCallOptions,
  parseLlmOptions,
  parseWaitForOptions,
} from "./options.js";
import { argsFingerprint, checkDecideKey, refusal } from "./ctxChecks.js";
import { allOf, raceOf, spawnedChildren, stoppableSteps, type GroupHost } from "./groups.js";

/** What a step did: its value, and what of it to journal when that differs (payloads go to blobs). */
export interface StepWork<T> {
  value: T;
  journal?: Json;
  blobs?: Blob[];
  meta?: Record<string, Json>;
}

/** `ctx.call`'s options when none are given (never mutated: every step reads it). */
const NO_CALL_OPTIONS: { deadlineMs?: number } = Object.freeze({});

/** A branch of ctx.all / ctx.race: runs with its own context, cancelled with its siblings. */
export type Branch<T> = (ctx: RunContext) => Promise<T>;

export interface LlmOptions extends LlmPolicy {
  /** Names the step in the journal; default: the model. */
  name?: string;
  /** A deadline for this call, relative to now; the run's own deadline applies too. */
  deadlineMs?: number;
}

export interface WaitForOptions {
  /** Give up after this long (durable: measured from the first wait). */
  timeoutMs?: number;
}

export function replayOutcome<T>(step: string, outcome: StepOutcome): T {
  if (outcome.ok) return outcome.value as T;
  throw new StepFailedError(step, outcome.error);
}

/** A step's replay when it has no replay of its own: its recorded outcome. */
function replayRecorded<T>(rec: StepRecord): Promise<T> {
  return Promise.resolve(replayOutcome<T>(rec.step, rec.outcome!));
}

/**
 * The agent's handle on its run. Every method is a journaled step: on replay
 * it returns what the journal recorded instead of doing the work again.
 * Agent code must be deterministic given these results.
 */
export class RunContext {
  constructor(
    private readonly exec: Execution,
    private readonly prefix: string,
    /** The context's signal, or a step's own, made when first read (see LazyLinkedAbort). */
    private readonly stop: AbortSource,
    /** Shared with the per-call views of this context, which number steps in the same sequence. */
    private readonly seq: { next: number } = { next: 0 },
  ) {}

  get signal(): AbortSignal {
    return signalOf(this.stop);
  }

  /** What this context stops on: read, or linked under, without making a step's own signal. */
  get abortState(): AbortSource {
    return this.stop;
  }

  get runId(): string {
    return this.exec.runId;
  }

  /**
   * A step of an execution that gave its run up (store fault, lease lost)
   * never settles: agent code sees no infrastructure fault and cannot act on
   * one (a catch-and-retry loop would only spin), and the run resumes from its
   * journal in a new execution.
   */
  private async held<T>(work: Promise<T>, settled?: () => void): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (this.exec.givingUp) return new Promise<never>(() => undefined);
      throw err;
    } finally {
      settled?.();
    }
  }

  /** The next step's id; a branch's steps are numbered under the branch's own prefix. */
  private nextStep(): string {
    return `${this.prefix}${this.seq.next++}`;
  }

  /**
   * Runs `body` once and journals its outcome; on replay returns the recorded
   * outcome. Failures are journaled too, so replay fails the same way.
   */
  private once<T>(
    kind: StepKind,
    name: string,
    body: (step: string) => Promise<StepWork<T>>,
    replay?: (rec: StepRecord) => Promise<T>,
    watched?: { seen: (value: T, meta: Record<string, Json>) => StepSeen },
  ): Promise<T> {
    return this.held(this.onceStep(kind, name, body, replay, watched));
  }

  /** `once` unheld: for a step that `stoppable` holds already. */
  private async onceStep<T>(
    kind: StepKind,
    name: string,
    body: (step: string) => Promise<StepWork<T>>,
    replay: (rec: StepRecord) => Promise<T> = replayRecorded,
    watched?: { seen: (value: T, meta: Record<string, Json>) => StepSeen },
  ): Promise<T> {
    const step = this.nextStep();
    const rec = this.exec.enter(this, step, kind, name);
    try {
      if (watched) this.exec.watch(rec);
      if (rec?.outcome) {
        const recorded = await replay(rec);
        if (watched) this.exec.progress(rec, watched.seen(recorded, rec.meta));
        return recorded;
      }
      let out: StepWork<T>;
      try {
        out = await body(step);
      } catch (err) {
        if (this.stop.aborted) throw err;
        // As journaled: a replay fails with the same (redacted) error.
        const error = redactorOf(this.exec.host).value(serializeError(err));
        await this.exec.write([
          { type: "step.failed", step, data: { kind, name, error: error as unknown as Json } },
        ]);
        throw new StepFailedError(step, error, { cause: err });
      }
      let value: T;
      try {
        value = storableCopy(out.value, `the result of ${kind} step '${name}'`);
        // What agent code sees is what the journal holds (a step journaling its own form redacts both).
        if (!("journal" in out)) value = redactorOf(this.exec.host).value(value);
        const journaled = "journal" in out ? out.journal : (value as Json);
        await this.exec.write(
          [
            {
              type: "step.completed",
              step,
              data: { kind, name, ...out.meta, value: journaled ?? null },
            },
          ],
          out.blobs ? { blobs: out.blobs } : {},
        );
      } catch (err) {
        if (!isFlotillaError(err, "FLOTILLA_PAYLOAD_REJECTED")) throw err;
        // The value cannot be stored: the step fails with that reason, on replay too.
        await this.exec.write([
          {
            type: "step.failed",
            step,
            data: { kind, name, error: err.toJSON() as unknown as Json },
          },
        ]);
        throw new StepFailedError(step, err.toJSON(), { cause: err });
      }
      if (watched) this.exec.progress(rec, watched.seen(value, out.meta ?? {}));
      return value;
    } finally {
      this.exec.leave();
    }
  }

  /** The time, fixed at first execution. */
  now(): Promise<number> {
    return this.once("now", "now", () => Promise.resolve({ value: this.exec.host.clock.now() }));
  }

  /** A random number in [0, 1), fixed at first execution. */
  random(): Promise<number> {
    return this.once("random", "random", () => Promise.resolve({ value: Math.random() }));
  }

  /**
   * Starts one step in a view of this context with a signal of its own, so
   * `ctx.all` can stop that step alone (and await it) when a sibling fails.
   */
  private stoppable<T>(start: (ctx: RunContext) => Promise<T>): Promise<T> {
    const stop = new LazyLinkedAbort(this.stop);
    const view = new RunContext(this.exec, this.prefix, stop, this.seq);
    const step = this.held(start(view), () => stop.dispose());
    stoppableSteps.set(step, stop);
    return step;
  }

  /** Calls the model once; its answer is journaled before the next step starts. */
  llm(request: LlmRequest, options: LlmOptions = {}): Promise<LlmResult> {
    return this.stoppable((view) => view.llmStep(request, options));
  }

  private async llmStep(request: LlmRequest, given: LlmOptions): Promise<LlmResult> {
    const options = parseLlmOptions(given);
    checkLlmRequest(request);
    return this.onceStep<LlmResult>(
      "llm",
      options.name ?? request.model,
      (step) => {
        const call = { step, signal: this.signal, deadline: this.deadline(options.deadlineMs) };
        return callModel(this.exec, call, request, options);
      },
      (rec) => replayModel(this.exec, rec),
      { seen: (r, meta) => llmSeen(request, meta, r) },
    );
  }

  /** The earliest of the run's deadline and `now + relativeMs`. */
  deadline(relativeMs?: number): number | undefined {
    const run = this.exec.deadline;
    if (relativeMs === undefined) return run;
    const call = this.exec.host.clock.now() + relativeMs;
    return run === undefined ? call : Math.min(run, call);
  }

  /**
   * Calls a tool under its effect contract (intent before, outcome after).
   * A tool with `approval` first waits for its `approve:<tool>` signal; a
   * `defer: "end-of-run"` tool resolves to `undefined` at once and is
   * performed when the agent function has returned.
   */
  call<A, R>(tool: Tool<A, R>, args: A, options?: { deadlineMs?: number }): Promise<R> {
    return this.stoppable((view) => view.callStep(tool, args, options));
  }

  private async callStep<A, R>(
    tool: Tool<A, R>,
    args: A,
    given: { deadlineMs?: number } | undefined,
  ): Promise<R> {
    // No options given: what parsing `{}` would return, without a schema walk per call.
    const options = given === undefined ? NO_CALL_OPTIONS : parseCallOptions(given);
    const deadline = this.deadline(options.deadlineMs);
    if (!isTool(tool))
      throw new InvalidArgumentError("ctx.call needs a tool made by flotilla.tool(name, spec)");
    const checked = checkToolArgs<A, R>(tool, args);
    const fp = argsFingerprint(tool.name, checked);
    if (tool.effect === "read") {
      return this.onceStep<R>(
        "tool",
        tool.name,
        (step) =>
          this.exec.trace.tool(tool, step, () =>
            readTool<A, R>(this.exec, this, step, tool, checked, deadline),
          ),
        undefined,
        { seen: (value) => ({ fp, value }) },
      );
    }
    if (tool.defer)
      return (await deferCall(
        this,
        this.exec,
        this.nextStep(),
        tool,
        checked,
        options.deadlineMs,
        fp.fingerprint,
      )) as R;
    // Both ids taken now: concurrent calls are numbered alike on replay, whenever approvals came.
    const steps = {
      approval: tool.approval ? this.nextStep() : undefined,
      effect: this.nextStep(),
    };
    return gatedEffect<A, R>(this, this.exec, steps, tool, checked, deadline, fp);
  }

  /** Starts a child run and waits for its result; the child survives crashes of either. */
  spawn<I, O>(agent: Agent<I, O>, input: I): Promise<O> {
    const child: SpawnedChild = {};
    const result = this.held(
      spawnChild(this, this.exec, () => this.nextStep(), agent, input, child),
    );
    spawnedChildren.set(result, child);
    return result;
  }

  /** Shared state in a declared region (see state/): every read and write is a journaled step. */
  state<T extends Region | string>(region: T): StateFor<T> {
    return openState(region, {
      ctx: this,
      exec: this.exec,
      nextStep: () => this.nextStep(),
      step: (name, body, seen) => this.once(STATE_STEP, name, body, undefined, seen && { seen }),
    });
  }

  /** One answer per entity and key, pinned for every branch, child and run (see consistency/decide.ts). */
  decide<T>(entity: string, key: string, fn: () => T | Promise<T>): Promise<T> {
    const refused = refusal(() => checkDecideKey(entity, key));
    if (refused) return refused;
    return decide({ ctx: this, exec: this.exec }, entity, key, fn);
  }

  /** Finds and resolves conflicting assertions at fan-in (see consistency/reconcile.ts). */
  reconcile<O>(outputs: readonly O[], options: ReconcileOptions<O>): Promise<Reconciled> {
    const step: ReconcileStepRunner = (name, body, seen) =>
      this.once(RECONCILE_STEP, name, body, undefined, seen && { seen });
    return reconcile({ ctx: this, exec: this.exec, step }, outputs, options);
  }

  /** Durable sleep: survives restarts; long sleeps release the worker. */
  sleep(ms: number): Promise<void> {
    const refused = refusal(() => checkSleepMs(ms));
    if (refused) return refused;
    return this.held(sleepStep(this, this.exec, () => this.nextStep(), ms));
  }

  /** Waits for an external signal (e.g. a human approval) sent with flotilla.signal(). */
  waitFor<T = Json>(name: string, options: WaitForOptions = {}): Promise<T> {
    const refused = refusal(() => {
      // A name flotilla.signal refuses could never be sent: refused here too, not waited for forever.
      checkSignalName("ctx.waitFor signal", name);
      parseWaitForOptions(options);
    });
    if (refused) return refused;
    return this.held(waitForSignal<T>(this, this.exec, () => this.nextStep(), name, options));
  }

  /**
   * Structured concurrency: runs every item; on the first failure, cancels the
   * branches still running, waits for them to stop, then throws that failure.
   * Items are step promises already started, or branches `(ctx) => …`.
   */
  all<T extends readonly unknown[]>(items: {
    [K in keyof T]: Promise<T[K]> | Branch<T[K]>;
  }): Promise<T> {
    return allOf(this.group(), items) as Promise<unknown> as Promise<T>;
  }

  /**
   * Runs branches concurrently; the first to settle wins, the others are
   * cancelled. The winner is journaled, so replay picks the same one.
   */
  race<T>(branches: readonly Branch<T>[]): Promise<T> {
    return raceOf(this.group(), branches);
  }

  /** What ctx.all and ctx.race use of this context. */
  private group(): GroupHost {
    return {
      ctx: this,
      exec: this.exec,
      nextStep: () => this.nextStep(),
      branch: (group, i, fn) => this.branch(group, i, fn),
    };
  }

  /** Starts branch `i` of a group (on the next microtask) under a signal of its own. */
  private branch<T>(
    group: string,
    i: number,
    fn: Branch<T>,
  ): { controller: AbortController; promise: Promise<T> } {
    const link = linkedAbort(this.signal);
    const ctx = new RunContext(this.exec, `${group}.${i}.`, link.controller.signal);
    const promise = Promise.resolve().then(() => fn(ctx));
    promise.then(link.dispose, link.dispose);
    return { controller: link.controller, promise };
  }
}
