import { NotFoundError } from "../core/errors.js";
import type { DeadLetter, DeadLetterFilter } from "../deadletter/types.js";
import { UNDO_AGENT } from "../saga/undoPlan.js";
import type { RunFilter, RunRecord, Store } from "../store/types.js";
import { sees, type Principal } from "./auth.js";

/*
 * Tenant isolation in one place: a token for one tenant sees and acts on
 * that tenant's runs and dead letters only; anything else answers 404, as
 * if it did not exist, so ids of other tenants' runs cannot be probed.
 */

/** Rows read to filter by tenant: the store filters by status and agent, the tenant is checked here. */
const TENANT_SCAN = 10_000;

export async function visibleRun(store: Store, who: Principal, id: string): Promise<RunRecord> {
  const run = await store.getRun(id);
  if (!run || !sees(who, run.tenant)) throw new NotFoundError("run", id);
  return run;
}

export async function visibleDeadLetter(
  store: Store,
  who: Principal,
  id: string,
): Promise<DeadLetter> {
  const entry = await store.getDeadLetter(id);
  if (!entry || !sees(who, entry.tenant)) throw new NotFoundError("dead letter", id);
  return entry;
}

/** Runs matching the filter that the principal sees, newest first; `tenant` narrows further. */
export async function visibleRuns(
  store: Store,
  who: Principal,
  filter: Omit<RunFilter, "limit"> & { tenant?: string | undefined; limit: number },
): Promise<RunRecord[]> {
  const { tenant, limit, ...rest } = filter;
  const wanted = tenant ?? (who.tenant === "*" ? undefined : who.tenant);
  if (wanted === undefined) return store.listRuns({ ...rest, limit });
  const runs = await store.listRuns({ ...rest, limit: TENANT_SCAN });
  return runs.filter((r) => r.tenant === wanted && sees(who, r.tenant)).slice(0, limit);
}

export async function visibleDeadLetters(
  store: Store,
  who: Principal,
  filter: DeadLetterFilter & { limit: number },
): Promise<DeadLetter[]> {
  if (who.tenant === "*") return store.listDeadLetters(filter);
  const entries = await store.listDeadLetters({ ...filter, limit: TENANT_SCAN });
  return entries.filter((d) => sees(who, d.tenant)).slice(0, filter.limit);
}

/** The durable undo run of a run, if one was started (`flotilla.undo`, one per run). */
export async function undoRunOf(store: Store, runId: string): Promise<RunRecord | undefined> {
  const undos = await store.listRuns({ agent: UNDO_AGENT, limit: TENANT_SCAN });
  return undos.find((r) => (r.input as { runId?: unknown } | null)?.runId === runId);
}
