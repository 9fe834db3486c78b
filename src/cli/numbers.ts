import { InvalidArgumentError } from "../core/errors.js";

/*
 * Numeric command-line options arrive as text; each is checked here so a typo
 * is reported as the flag and the text received, not as NaN further down.
 */

function rejected(flag: string, text: string, what: string): InvalidArgumentError {
  return new InvalidArgumentError(`${flag} must be ${what}, received '${text}'`, {
    field: flag,
    received: text,
  });
}

function integerAtLeast(min: 0 | 1, flag: string, text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min)
    throw rejected(flag, text, min === 1 ? "a positive integer" : "a non-negative integer");
  return n;
}

/**
 * An integer flag checked against the range the option it feeds accepts, so
 * a refusal names the flag and its range (not the option object behind it).
 */
export function integerInRange(
  flag: string,
  text: string,
  range: { min: number; max: number },
): number {
  const n = integerAtLeast(range.min > 0 ? 1 : 0, flag, text);
  if (n >= range.min && n <= range.max) return n;
  const what =
    range.max >= Number.MAX_SAFE_INTEGER
      ? `an integer of at least ${range.min}`
      : `an integer from ${range.min} to ${range.max}`;
  throw rejected(flag, text, what);
}

export function positiveInteger(flag: string, text: string): number {
  return integerAtLeast(1, flag, text);
}

export function nonNegativeInteger(flag: string, text: string): number {
  return integerAtLeast(0, flag, text);
}

export function positiveNumber(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw rejected(flag, text, "a positive number");
  return n;
}
