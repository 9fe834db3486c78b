import { IdempotencyConflictError, type SerializedError } from "../core/errors.js";
import { canonicalJson, sha256, type Json } from "../core/json.js";
import type { DeadLetterClass } from "../deadletter/taxonomy.js";
import type {
  DeadLetter,
  DeadLetterContext,
  DeadLetterStatus,
  NewDeadLetter,
} from "../deadletter/types.js";
import type {
  AgentVersionInfo,
  BudgetUsage,
  CreateClaim,
  EffectRecord,
  EffectState,
  JournalEvent,
  NewRun,
  RunRecord,
  RunStatus,
} from "./types.js";

/**
 * Postgres hands back parsed JSONB (a JSON string arrives as a JS string) and
 * BIGINT as strings; SQLite hands back JSON text and numbers.
 */
export type Dialect = "sqlite" | "postgres";

function json(value: unknown, dialect: Dialect): Json | undefined {
  if (value === null || value === undefined) return undefined;
  return dialect === "sqlite" ? (JSON.parse(value as string) as Json) : (value as Json);
}

function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

export function rowToRun(row: Record<string, unknown>, dialect: Dialect): RunRecord {
  return {
    id: row.id as string,
    agent: row.agent as string,
    status: row.status as RunStatus,
    parentId: (row.parent_id as string | null) ?? null,
    idempotencyKey: (row.idempotency_key as string | null) ?? null,
    tenant: (row.tenant as string | null) ?? null,
    input: json(row.input, dialect) ?? null,
    result: json(row.result, dialect),
    error: (json(row.error, dialect) as SerializedError | undefined) ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    wakeAt: num(row.wake_at),
    leaseOwner: (row.lease_owner as string | null) ?? null,
    leaseExpiresAt: num(row.lease_expires_at),
    cancelRequested: Boolean(row.cancel_requested),
    agentVersion: (row.agent_version as string | null | undefined) ?? null,
  };
}

export function rowToEvent(row: Record<string, unknown>, dialect: Dialect): JournalEvent {
  return {
    id: Number(row.id),
    runId: row.run_id as string,
    type: row.type as string,
    step: (row.step as string | null) ?? null,
    data: json(row.data, dialect) ?? null,
    at: Number(row.at),
  };
}

export function rowToEffect(row: Record<string, unknown>, dialect: Dialect): EffectRecord {
  return {
    key: row.key as string,
    runId: row.run_id as string,
    step: row.step as string,
    tool: row.tool as string,
    state: row.state as EffectState,
    result: json(row.result, dialect),
    argsHash: (row.args_hash as string | null | undefined) ?? null,
  };
}

/** JSON text for a nullable column; `undefined` is stored as SQL NULL. */
export function toJsonText(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function rowToDeadLetter(row: Record<string, unknown>, dialect: Dialect): DeadLetter {
  return {
    id: row.id as string,
    runId: row.run_id as string,
    rootId: row.root_id as string,
    agent: row.agent as string,
    tenant: (row.tenant as string | null) ?? null,
    class: row.class as DeadLetterClass,
    status: row.status as DeadLetterStatus,
    error: (json(row.error, dialect) as SerializedError | undefined) ?? null,
    context: json(row.context, dialect) as unknown as DeadLetterContext,
    resolution: json(row.resolution, dialect) ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function rowToBudget(row: Record<string, unknown> | undefined): BudgetUsage {
  return {
    spentUsd: Number(row?.spent_usd ?? 0),
    reservedUsd: Number(row?.reserved_usd ?? 0),
    spentTokens: Number(row?.spent_tokens ?? 0),
    reservedTokens: Number(row?.reserved_tokens ?? 0),
  };
}

/** A new dead letter's column values, in the order both adapters insert them. */
export function deadLetterValues(d: NewDeadLetter): (string | null)[] {
  return [
    d.id,
    d.runId,
    d.rootId,
    d.agent,
    d.tenant,
    d.class,
    toJsonText(d.error ?? undefined),
    JSON.stringify(d.context),
  ];
}

/** A new run's column values (id, agent, parent, idempotency key, tenant, input), as both adapters insert them. */
export function newRunValues(run: NewRun): (string | null)[] {
  return [
    run.id,
    run.agent,
    run.parentId ?? null,
    run.idempotencyKey ?? null,
    run.tenant ?? null,
    JSON.stringify(run.input),
  ];
}

/** What `run.created` journals: the facts given, the agent, the parent and the deadline. */
export function createdData(run: NewRun): Json {
  return {
    ...run.created,
    agent: run.agent,
    parentId: run.parentId ?? null,
    deadline: run.deadline ?? null,
  };
}

/** What `run.resumed` journals: the worker, and its version of the run's agent when known. */
export function resumedData(claim: Pick<CreateClaim, "workerId" | "agentVersion">): Json {
  return {
    worker: claim.workerId,
    ...(claim.agentVersion === undefined ? {} : { agentVersion: claim.agentVersion }),
  };
}

/** A hash of the run's input as stored, in canonical JSON: what an idempotency key is checked against. */
export function inputHash(run: NewRun): string {
  return sha256(canonicalJson(run.input)).toString("hex");
}

/**
 * Refuses to hand back `row`, the run holding `run`'s idempotency key, when
 * `run` names another agent or another input (rows older than input hashes
 * are checked on their agent only).
 */
export function checkKeyReuse(row: Record<string, unknown>, run: NewRun): void {
  const holder = { runId: row.id as string, agent: row.agent as string };
  const key = run.idempotencyKey ?? "";
  if (holder.agent !== run.agent)
    throw new IdempotencyConflictError(key, holder, { agent: run.agent }, "agent");
  const hash = row.input_hash as string | null | undefined;
  if (hash != null && hash !== inputHash(run))
    throw new IdempotencyConflictError(key, holder, { agent: run.agent }, "input");
}

/**
 * A claim's versions as query parameters: `pins` maps each agent to the
 * version a claim records, `accepted` lists "agent version" pairs it may
 * claim (names and versions hold no space).
 */
export function versionParams(versions: readonly AgentVersionInfo[] = []): {
  pins: string;
  accepted: string[];
} {
  return {
    pins: JSON.stringify(Object.fromEntries(versions.map((v) => [v.agent, v.version]))),
    accepted: versions.flatMap((v) => v.accepts.map((a) => `${v.agent} ${a}`)),
  };
}
