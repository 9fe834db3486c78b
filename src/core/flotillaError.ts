/**
 * Typed errors with stable codes. Every error Flotilla raises on purpose is a
 * `FlotillaError`; callers branch on `code`, never on message text.
 *
 * The brand is a well-known symbol rather than `instanceof`, so errors survive
 * duplicated module copies (two versions of flotilla in one process) and
 * structured cloning into the journal and back.
 */
const BRAND = Symbol.for("flotilla.error");

export type ErrorCode =
  | "FLOTILLA_INVALID_ARGUMENT"
  | "FLOTILLA_NOT_FOUND"
  | "FLOTILLA_STORE_UNAVAILABLE"
  | "FLOTILLA_STORE_OWNED"
  | "FLOTILLA_LEASE_LOST"
  | "FLOTILLA_NONDETERMINISM"
  | "FLOTILLA_CANCELLED"
  | "FLOTILLA_UNKNOWN_AGENT"
  | "FLOTILLA_UNKNOWN_TOOL"
  | "FLOTILLA_NO_PROVIDER"
  | "FLOTILLA_EFFECT_OUTCOME_UNKNOWN"
  | "FLOTILLA_EFFECT_IN_PROGRESS"
  | "FLOTILLA_RUN_FAILED"
  | "FLOTILLA_RUN_PARKED"
  | "FLOTILLA_TIMEOUT"
  | "FLOTILLA_STEP_FAILED"
  | "FLOTILLA_TOOL_REJECTED"
  | "FLOTILLA_BREAKER_OPEN"
  | "FLOTILLA_BULKHEAD_FULL"
  | "FLOTILLA_RETRIES_EXHAUSTED"
  | "FLOTILLA_RETRY_BUDGET_EXHAUSTED"
  | "FLOTILLA_DEPENDENCY_UNAVAILABLE"
  | "FLOTILLA_THROTTLED"
  | "FLOTILLA_DEADLINE_EXCEEDED"
  | "FLOTILLA_REFUSED"
  | "FLOTILLA_ESCALATED"
  | "FLOTILLA_RECONCILE_TIE"
  | "FLOTILLA_VALIDATION_FAILED"
  | "FLOTILLA_PROVIDER_ERROR"
  | "FLOTILLA_VECTOR_ERROR"
  | "FLOTILLA_BUDGET_EXHAUSTED"
  | "FLOTILLA_LOOP_DETECTED"
  | "FLOTILLA_NO_PROGRESS"
  | "FLOTILLA_DEAD_LETTERED"
  | "FLOTILLA_STORE_FAULT"
  | "FLOTILLA_PAYLOAD_REJECTED"
  | "FLOTILLA_EFFECT_KEY_CONFLICT"
  | "FLOTILLA_RUN_KEY_FAILED"
  | "FLOTILLA_IDEMPOTENCY_CONFLICT"
  | "FLOTILLA_UNDO_INCOMPLETE"
  | "FLOTILLA_STATE_UNKNOWN_REGION"
  | "FLOTILLA_STATE_REGION_MISMATCH"
  | "FLOTILLA_STATE_WRONG_ISOLATION"
  | "FLOTILLA_STATE_CONFLICT"
  | "FLOTILLA_CLAIM_LOST"
  | "FLOTILLA_APPROVAL_DENIED"
  | "FLOTILLA_SQL_PARSE"
  | "FLOTILLA_SQL_REFUSED"
  | "FLOTILLA_SQL_ROW_LIMIT"
  | "FLOTILLA_SQL_NOT_GUARDED"
  | "FLOTILLA_SQL_UNKNOWN_TABLE"
  | "FLOTILLA_SQL_ERROR"
  | "FLOTILLA_SQL_ROLLBACK_CONFLICT";

export class FlotillaError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  /** Extra facts an operator needs (ids, received values). Always JSON-safe. */
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  toJSON(): SerializedError {
    return storableError({
      name: this.name,
      code: this.code,
      message: this.message,
      details: this.details,
    });
  }
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

/** True for any Flotilla error, optionally of one code; works across module copies. */
export function isFlotillaError(err: unknown, code?: ErrorCode): err is FlotillaError {
  if (typeof err !== "object" || err === null) return false;
  if ((err as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (err as FlotillaError).code === code;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Turns anything thrown into the JSON shape the journal stores. */
export function serializeError(err: unknown): SerializedError {
  if (isFlotillaError(err)) return err.toJSON();
  if (err instanceof Error) {
    const out: SerializedError = { name: err.name, message: err.message };
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") out.code = code;
    return storableError(out);
  }
  return storableError({ name: "Error", message: String(err) });
}

/**
 * An error as the journal can always hold it: errors carry text from tools
 * and services (a fetched page's U+0000, a BigInt in details), and the record
 * of a failure must never be refused by the store that journals it.
 */
function storableError(e: SerializedError): SerializedError {
  const clean = (v: unknown): unknown =>
    typeof v === "string" ? v.replaceAll("\0", "\uFFFD") : typeof v === "bigint" ? String(v) : v;
  try {
    return JSON.parse(JSON.stringify(e, (_k, v: unknown) => clean(v))) as SerializedError;
  } catch {
    const { details: _dropped, ...rest } = e;
    return { ...rest, message: clean(e.message) as string };
  }
}
