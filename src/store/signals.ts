import { InvalidArgumentError, NotFoundError } from "../core/errors.js";
import { isTerminal, type RunStatus } from "./types.js";

/**
 * A signal goes to a run that may still read it: one that does not exist is
 * not found, and one that has ended would never read it, so it is refused
 * rather than stored and lost.
 */
export function checkSignalTarget(runId: string, status: RunStatus | undefined): void {
  if (status === undefined) throw new NotFoundError("run", runId);
  if (isTerminal(status))
    throw new InvalidArgumentError(
      `run ${runId} is ${status}: it will never read a signal, so none was sent`,
      { runId, status },
    );
}
