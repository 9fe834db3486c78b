import { FlotillaError } from "../core/errors.js";

/**
 * Bad input to the vector index: wrong dimension, a bad `k`, an unknown id, an
 * invalid option. `details.field` names what was wrong and `details.received`
 * what was given, so a caller can fix the call without reading the source.
 */
export class VectorIndexError extends FlotillaError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super("FLOTILLA_VECTOR_ERROR", message, details, options);
  }
}

/** Echoes a received value into error details without dragging a whole vector along. */
export function describeReceived(value: unknown): unknown {
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name} of length ${(value as Float32Array).length}`;
  if (typeof value === "bigint" || typeof value === "symbol" || typeof value === "function")
    return String(value);
  return value;
}
