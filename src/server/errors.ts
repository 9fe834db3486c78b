import { isFlotillaError, type FlotillaError } from "../core/errors.js";

/*
 * Every error the API answers is JSON `{ error: { code, message, details } }`
 * with the library's FLOTILLA_ code, mapped to an HTTP status. Two codes are
 * the server's own: FLOTILLA_UNAUTHENTICATED (401) and FLOTILLA_FORBIDDEN (403).
 */

export type ServerErrorCode = "FLOTILLA_UNAUTHENTICATED" | "FLOTILLA_FORBIDDEN";

export type HttpStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 500 | 503 | 504;

const BRAND = Symbol.for("flotilla.server.error");

/** An error only the server raises (authentication, authorization). */
export class ServerError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: ServerErrorCode | "FLOTILLA_INVALID_ARGUMENT" | "FLOTILLA_PAYLOAD_REJECTED",
    readonly status: HttpStatus,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ServerError";
  }
}

export function isServerError(err: unknown): err is ServerError {
  return (
    typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[BRAND] === true
  );
}

export class UnauthenticatedError extends ServerError {
  constructor(message: string) {
    super("FLOTILLA_UNAUTHENTICATED", 401, message);
  }
}

export class ForbiddenError extends ServerError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("FLOTILLA_FORBIDDEN", 403, message, details);
  }
}

/** What each library code means for an HTTP client. Codes not named here are conflicts with the run's state. */
const STATUS: Partial<Record<FlotillaError["code"], HttpStatus>> = {
  FLOTILLA_INVALID_ARGUMENT: 400,
  FLOTILLA_PAYLOAD_REJECTED: 400,
  FLOTILLA_NOT_FOUND: 404,
  FLOTILLA_STORE_UNAVAILABLE: 503,
  FLOTILLA_STORE_FAULT: 503,
  FLOTILLA_TIMEOUT: 504,
};

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/** The status and JSON body for an error; anything unexpected is a 500 that leaks no internals. */
export function errorResponse(err: unknown): { status: HttpStatus; body: ErrorBody } {
  if (isServerError(err))
    return {
      status: err.status,
      body: { error: { code: err.code, message: err.message, details: err.details } },
    };
  if (isFlotillaError(err)) {
    const json = err.toJSON();
    return {
      status: STATUS[err.code] ?? 409,
      body: { error: { code: err.code, message: err.message, details: json.details ?? {} } },
    };
  }
  return {
    status: 500,
    body: {
      error: {
        code: "FLOTILLA_INTERNAL",
        message: "the server failed to answer; its log says why",
        details: {},
      },
    },
  };
}
