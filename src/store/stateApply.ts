import { FlotillaError } from "../core/errors.js";
import type { Json } from "../core/json.js";
import type { RunStateWriter, StateProvenance, StateWrite, StateWriter } from "./stateTypes.js";

/**
 * What both stores compute the same way, in JS, under the row's lock: one
 * definition of every reducer's semantics, whatever the dialect.
 */

/** A key's row as a write sees it (version 0 / no value: the key does not exist yet). */
export interface ValueRow {
  version: number;
  value: Json | undefined;
  allVerified: boolean;
  verifiedValue: Json | undefined;
  verifiedVersion: number | null;
}

/** The row after a write, or null when a `set` found another version. */
export function nextRow(cur: ValueRow | undefined, write: StateWrite): ValueRow | null {
  const exists = cur !== undefined && cur.version > 0;
  const version = (exists ? cur.version : 0) + 1;
  const verified = write.verified;
  if (write.kind === "set") {
    if ((exists ? cur.version : 0) !== write.ifVersion) return null;
    return {
      version,
      value: write.input,
      allVerified: verified,
      verifiedValue: verified ? write.input : cur?.verifiedValue,
      verifiedVersion: verified ? version : (cur?.verifiedVersion ?? null),
    };
  }
  return {
    version,
    value: write.reduce(exists ? cur.value : undefined, write.input),
    allVerified: (!exists || cur.allVerified) && verified,
    verifiedValue: verified ? write.reduce(cur?.verifiedValue, write.input) : cur?.verifiedValue,
    verifiedVersion: verified ? version : (cur?.verifiedVersion ?? null),
  };
}

/** The provenance columns of a write: a run's step, or an actor outside any run. */
export function writerColumns(by: StateWriter): {
  runId: string | null;
  step: string | null;
  agent: string;
} {
  return "runId" in by
    ? { runId: by.runId, step: by.step, agent: by.agent }
    : { runId: null, step: null, agent: by.actor };
}

export function provenanceOf(row: Record<string, unknown>): StateProvenance {
  return {
    runId: (row.run_id as string | null) ?? null,
    step: (row.step as string | null) ?? null,
    agent: (row.agent as string | null) ?? null,
    at: Number(row.at),
    verified: Boolean(row.verified),
  };
}

/**
 * A step's recorded write, found when the step writes again (its journal
 * event was lost in a crash): the same write returns what it returned then.
 * A different write at the same step is code that changed between runs.
 */
export function recorded(by: RunStateWriter, fingerprint: string, result: Json): Json {
  if (fingerprint !== by.fingerprint)
    throw new FlotillaError(
      "FLOTILLA_NONDETERMINISM",
      `run ${by.runId} step ${by.step} already wrote shared state as '${fingerprint}' and now asks ` +
        `for '${by.fingerprint}': agent code must be deterministic given its step results`,
      { runId: by.runId, step: by.step, recorded: fingerprint, requested: by.fingerprint },
    );
  return result;
}
