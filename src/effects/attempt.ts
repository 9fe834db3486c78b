import {
  EffectOutcomeUnknownError,
  StepFailedError,
  isFlotillaError,
  serializeError,
} from "../core/errors.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import type { AbortSource } from "../core/abort.js";
import { abortAfter, type DeadlineSignal } from "../core/timers.js";
import { heldOutageWait, throughOutages } from "../resilience/outage.js";
import type { Execution } from "../runtime/Execution.js";
import type { EffectState, EffectUpdate } from "../store/types.js";
import { redactorOf } from "../telemetry/redaction/Redactor.js";
import { attemptMayHaveApplied } from "./outcome.js";
import { reconcileThenSettle } from "./recover.js";
import { runTool, toolDependency, type ToolRun } from "./runTool.js";
import { effectNotApplied, type Tool } from "./Tool.js";

/** One effect step's facts, the same for every attempt. */
export interface EffectCall<A, R> {
  exec: Execution;
  /** The step's stop, read without making its signal (see LazyLinkedAbort). */
  stop: AbortSource;
  step: string;
  tool: Tool<A, R>;
  /** As journaled with the intent. */
  args: A;
  key: string;
  /** The run's (or the call's) deadline, if any. */
  deadline: number | undefined;
}

/**
 * Calls the tool (attempt `n` onwards, through its retry owner) and settles
 * the outcome: committed; failed only when no attempt can have acted; else
 * unknown, which `reconcile` may settle once the call can no longer land.
 */
export async function attempt<A, R>(
  call: EffectCall<A, R>,
  n: number,
  attemptDeadline: number,
): Promise<R> {
  const { exec, tool, step } = call;
  exec.checkLease();
  const left = Math.max(0, attemptDeadline - exec.host.clock.now());
  // Its signal is made only if read (the tool, a bulkhead or an outage wait); its timer runs anyway.
  const deadline = abortAfter(call.stop, left);
  const run = new EffectRun(call, deadline, n, attemptDeadline);
  let result: R;
  try {
    // Refused by an outage, the call waits for the service within its deadline. An outage is a
    // refusal the retry owner could have retried, and it retries only tools safe to repeat:
    // idempotent ones, or any tool whose attempts certainly did nothing.
    const dependency = exec.host.resilience.dependency(toolDependency(tool as Tool));
    const outage = heldOutageWait(deadline, attemptDeadline, exec.host.clock);
    // A tool that ignores its signal still cannot hold the step past the deadline.
    ({ value: result } = await Promise.race([
      throughOutages(dependency, () => runTool(exec.host, tool, call.args, run), outage),
      deadline.expired,
    ]));
  } catch (err) {
    deadline.dispose();
    // Out of time with the call unanswered: the request may have left.
    const mayHaveActed = run.mayHaveActed || err === deadline.timeout;
    // An idempotent call that may have acted is safe to make again with its key: its step
    // fails (a redrive calls it again), marked as maybe applied, instead of parking the run;
    // so does one stopped alone (ctx.all stopping it for a failed sibling) while its run goes on.
    const repeatable = tool.effect === "idempotent" && !exec.controller.signal.aborted;
    if (mayHaveActed && !repeatable) {
      // A lost answer is not a failure: the effect may have happened.
      if (!call.stop.aborted && tool.reconcile)
        return reconcileThenSettle(call, n, attemptDeadline);
      return park(call, false, err);
    }
    // As journaled, so a replay fails with the same error.
    const error = redactorOf(exec.host).value(serializeError(err));
    // Agent code (and a replay) sees that this failure may hide an effect.
    if (mayHaveActed) error.details = { ...error.details, mayHaveActed: true };
    await exec.write(
      [
        {
          type: "effect.failed",
          step,
          data: {
            kind: "tool",
            name: tool.name,
            error: error as unknown as Json,
            ...(mayHaveActed ? { mayHaveActed: true } : {}),
          },
        },
      ],
      { effects: keyRows(call, mayHaveActed ? "unknown" : "failed") },
    );
    throw new StepFailedError(step, error, { cause: err });
  }
  deadline.dispose();
  return settleCommitted(call, result, {});
}

/**
 * An effect's tool call as `runTool` makes it, over every attempt: a class,
 * so the deadline's signal is read only when needed.
 */
class EffectRun<A, R> implements ToolRun {
  readonly lazySignal = true;
  readonly idempotencyKey: string;
  readonly tenant: string;
  /** The next attempt's number: attempts go on being counted after an outage wait. */
  firstAttempt: number;
  /** Whether an attempt that failed may have acted. */
  mayHaveActed = false;

  constructor(
    private readonly call: EffectCall<A, R>,
    private readonly limit: DeadlineSignal,
    n: number,
    readonly deadline: number,
  ) {
    this.idempotencyKey = call.key;
    this.tenant = call.exec.run.tenant ?? "default";
    this.firstAttempt = n;
  }

  get signal(): AbortSignal {
    return this.limit.signal;
  }

  onAttemptFailed(err: unknown): void {
    this.firstAttempt++;
    // An attempt cut short by the run's stop or its deadline may have been sent: not a verdict.
    if (
      attemptMayHaveApplied(this.call.tool as Tool, err) ||
      (this.limit.aborted && !effectNotApplied(err))
    )
      this.mayHaveActed = true;
  }
}

/**
 * Journals the effect as performed. A result the store cannot hold (not
 * JSON, NUL, too large) still records that the effect happened, marked
 * unstorable, and fails the step with the reason: never forgotten, never
 * performed again.
 */
export async function settleCommitted<A, R>(
  call: EffectCall<A, R>,
  result: R,
  meta: Record<string, Json>,
): Promise<R> {
  const { exec, step, tool } = call;
  const base = { kind: "tool", name: tool.name, ...meta };
  try {
    // The agent sees the result as journaled (secrets redacted), on replay too.
    const value = redactorOf(exec.host).value(
      storableCopy(result, `the result of tool '${tool.name}'`),
    );
    await exec.write(
      [{ type: "effect.committed", step, data: { ...base, value: (value ?? null) as Json } }],
      { effects: keyRows(call, "committed", value ?? null) },
    );
    return value;
  } catch (err) {
    if (!isFlotillaError(err, "FLOTILLA_PAYLOAD_REJECTED")) throw err;
    const error = err.toJSON();
    await exec.write(
      [
        {
          type: "effect.committed",
          step,
          data: { ...base, value: null, unstorable: error as unknown as Json },
        },
      ],
      { effects: keyRows(call, "committed", null) },
    );
    throw new StepFailedError(step, error, { cause: err });
  }
}

/** Journals the outcome as unknown (unless it is already) and parks the run for a decision. */
export async function park<A, R>(
  call: EffectCall<A, R>,
  alreadyJournaled = false,
  cause?: unknown,
): Promise<never> {
  const { exec, step, tool, key } = call;
  const error = new EffectOutcomeUnknownError(exec.runId, step, tool.name, key);
  // Why the outcome is unknown (the lost answer's error), for whoever has to decide it.
  const why = cause === undefined ? {} : { error: serializeError(cause) as unknown as Json };
  if (!alreadyJournaled)
    await exec.write(
      [{ type: "effect.unknown", step, data: { kind: "tool", name: tool.name, key, ...why } }],
      { effects: keyRows(call, "unknown") },
    );
  exec.stop("park", error);
  throw error;
}

/**
 * The effect-key row a call's new state is written to, if it has one. Only
 * a key the tool chooses (`tool.key`) can be claimed by another unit of
 * work, so only such keys are registered in the store's effect keys; the
 * default key, `<run>:<step>`, belongs to one step of one run, whose
 * journal alone says its state. Its row would be written on every call and
 * never read.
 */
export function keyRows<A, R>(
  call: EffectCall<A, R>,
  state: EffectState,
  result?: Json,
): EffectUpdate[] {
  if (!call.tool.key) return [];
  const row = {
    key: call.key,
    runId: call.exec.runId,
    step: call.step,
    tool: call.tool.name,
    state,
  };
  return [result === undefined ? row : { ...row, result }];
}
