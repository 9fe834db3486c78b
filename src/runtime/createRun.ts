import type { Clock } from "../core/clock.js";
import { RunKeyFailedError } from "../core/errors.js";
import { newRunId } from "../core/ids.js";
import type { Json } from "../core/json.js";
import type { BudgetLimits, RunBudget } from "../deadletter/budgets.js";
import type { CreatedRun, RunRecord, Store } from "../store/types.js";
import type { Telemetry } from "../telemetry/Telemetry.js";
import type { StartOptions } from "./options.js";
import type { LocalSlot } from "./Worker.js";

/** What creating a run needs from the runtime. */
export interface RunCreator {
  readonly store: Store;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  /** A slot of this process's worker for the run, if it runs the agent and has one free. */
  reserveSlot(agent: string): LocalSlot | undefined;
}

/**
 * Creates a run of `agent` with its (checked, redacted) input, or finds the
 * one holding the idempotency key. With a slot free here, the run is created
 * leased to this process's worker and starts at once, with no claim.
 */
export async function createRun(
  host: RunCreator,
  agent: string,
  input: Json,
  options: StartOptions,
  limits: BudgetLimits | undefined,
): Promise<RunRecord> {
  const id = newRunId();
  const budget: RunBudget | undefined = limits && {
    root: id,
    startedAt: host.clock.now(),
    limits,
  };
  const slot = host.reserveSlot(agent);
  let outcome: CreatedRun;
  try {
    outcome = await host.store.createRun(
      {
        id,
        created: {
          root: id,
          lineage: [],
          ...host.telemetry.startFacts(),
          ...(budget ? { budget: budget as unknown as Json } : {}),
        },
        agent,
        input,
        idempotencyKey: options.idempotencyKey ?? null,
        tenant: options.tenant ?? null,
        deadline: options.deadlineMs === undefined ? null : host.clock.now() + options.deadlineMs,
      },
      slot?.claim,
    );
  } catch (err) {
    slot?.release();
    throw err;
  }
  const { run, created, claimed } = outcome;
  if (claimed) slot?.adopt(claimed);
  else slot?.release();
  if (!created && run.status === "failed" && options.idempotencyKey !== undefined)
    throw new RunKeyFailedError(run.id, options.idempotencyKey);
  return run;
}
