import { InvalidArgumentError, TimeoutError, isFlotillaError } from "../core/errors.js";
import { redriveDeadLetter } from "../deadletter/redrive.js";
import type { Agent } from "../runtime/Agent.js";
import type { StartOptions } from "../runtime/options.js";
import { TERMINAL_STATUSES, type RunRecord, type Store } from "../store/types.js";
import { planUndo, UNDO_AGENT } from "./undoPlan.js";
import type { UndoPlan, UndoReport } from "./undoTypes.js";

export interface UndoOptions {
  /**
   * How long to wait for the undo to finish (its run goes on durably after).
   * Default 5 min.
   */
  timeoutMs?: number;
  /** Who asked, journaled with the request in the undone run's journal. Default "operator". */
  by?: string;
}

/** What starting and following an undo needs from the runtime. */
export interface UndoRunner {
  readonly store: Store;
  getRun(runId: string): Promise<RunRecord>;
  agentByName(name: string): Agent | undefined;
  start(agent: Agent, input: unknown, options: StartOptions): Promise<{ readonly id: string }>;
  waitForResult<O>(runId: string, timeoutMs?: number): Promise<O>;
}

/** Starts the undo run of `target`, or finds the one started before (its idempotency key); returns its id. */
async function startUndo(runner: UndoRunner, target: RunRecord): Promise<string> {
  const agent = runner.agentByName(UNDO_AGENT);
  if (!agent) throw new Error(`the runtime's own ${UNDO_AGENT} agent is not defined`);
  const handle = await runner.start(
    agent,
    { runId: target.id },
    {
      idempotencyKey: `${UNDO_AGENT}:${target.id}`,
      ...(target.tenant !== null ? { tenant: target.tenant } : {}),
    },
  );
  return handle.id;
}

const POLL_MS = 100;

function checkTimeout(ms: unknown): number {
  if (ms === undefined) return 300_000;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0)
    throw new InvalidArgumentError(
      `timeoutMs must be a positive number, received ${JSON.stringify(ms)}`,
      {
        field: "timeoutMs",
      },
    );
  return ms;
}

function checkBy(by: unknown): string {
  if (by === undefined) return "operator";
  if (typeof by !== "string" || by.trim() === "" || by.length > 200)
    throw new InvalidArgumentError("by must be a non-empty name of at most 200 characters", {
      field: "by",
    });
  return by;
}

/** The plan, public part only: what will be done about each effect, in which wave. */
export async function undoPlan(store: Store, runId: string): Promise<UndoPlan> {
  const plan = await planUndo(store, runId);
  return {
    ...plan,
    effects: plan.effects.map(({ args: _a, result: _r, ...planned }) => planned),
  };
}

/**
 * Waits until the run's descendants have ended too (a cancelled parent's
 * children stop a moment later), so the plan sees every effect; a run that
 * has not ended itself is refused at once.
 */
async function treeEnded(store: Store, runId: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      await planUndo(store, runId);
      return;
    } catch (err) {
      const child = isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") ? err.details.runId : null;
      if (typeof child !== "string" || child === runId) throw err;
      if (Date.now() > deadline)
        throw new TimeoutError(`waiting for run ${child} (a child) to end`, 0);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Undoes a run and its children: starts (once) the durable undo run, which
 * any worker defining the tools performs, and waits for its report. An undo
 * that was left incomplete is redriven, so asking again tries again what
 * failed and repeats nothing that succeeded.
 */
export async function undoRun(
  runner: UndoRunner,
  runId: string,
  options: UndoOptions = {},
): Promise<UndoReport> {
  const timeoutMs = checkTimeout(options.timeoutMs);
  const by = checkBy(options.by);
  const deadline = Date.now() + timeoutMs;
  const target = await runner.getRun(runId);
  if (target.agent === UNDO_AGENT)
    throw new InvalidArgumentError(`run ${runId} is an undo; it cannot be undone`, { runId });
  await treeEnded(runner.store, runId, deadline);
  const undoRunId = await startUndo(runner, target);
  await runner.store.commit({
    runId,
    fence: { unleasedIn: TERMINAL_STATUSES },
    events: [{ type: "run.undo-requested", data: { by, undoRunId } }],
  });
  const existing = await runner.getRun(undoRunId);
  if (existing.status === "dead-lettered") {
    const [entry] = await runner.store.listDeadLetters({
      runId: undoRunId,
      status: "open",
      limit: 1,
    });
    if (entry)
      await redriveDeadLetter(runner.store, entry.id, { by: "undo", reason: "undo asked again" });
  }
  try {
    return await runner.waitForResult<UndoReport>(undoRunId, Math.max(1, deadline - Date.now()));
  } catch (err) {
    const ended = await runner.getRun(undoRunId);
    const report = ended.error?.code === "FLOTILLA_UNDO_INCOMPLETE" && ended.error.details?.report;
    if (report && ended.status !== "pending" && ended.status !== "running")
      return report as unknown as UndoReport;
    if (isFlotillaError(err, "FLOTILLA_TIMEOUT"))
      throw new TimeoutError(
        `the undo of run ${runId} (undo run ${undoRunId}, which goes on: follow it with flotilla show ${undoRunId})`,
        timeoutMs,
      );
    throw err;
  }
}
