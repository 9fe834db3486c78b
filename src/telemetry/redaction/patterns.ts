/**
 * What the default redaction looks for. Each pattern names the kind of
 * secret it finds, which the replacement says (`[REDACTED:api-key]`), so an
 * operator reading a journal knows what was there without seeing it.
 */
export interface SecretPattern {
  kind: string;
  /** Global; matched against every string of a payload. */
  pattern: RegExp;
  /** A second look at a match that the pattern alone cannot decide (a card number's check digit). */
  confirm?: (match: string) => boolean;
  /** The start of a match that is kept, not redacted (the word "Bearer"). */
  keep?: RegExp;
}

/** True when the digits of `text` pass the Luhn check that every payment card number passes. */
export function luhn(text: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    let d = c - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Bearer tokens first (the token may itself look like a key), then
 * provider keys by their documented prefixes, then card numbers: 13 to 19
 * digits, spaces or dashes between them allowed, starting like the card
 * networks' numbers (2–6), never part of a longer number or a decimal
 * fraction, and passing the Luhn check (so most 16-digit ids do not match).
 */
export const DEFAULT_PATTERNS: readonly SecretPattern[] = [
  // The token, not the word: "Bearer [REDACTED:bearer-token]" still says what was there.
  {
    kind: "bearer-token",
    pattern: /\b[Bb]earer\s+[A-Za-z0-9\-._~+/]{8,}=*/g,
    keep: /^[Bb]earer\s+/,
  },
  // OpenAI (sk-, sk-proj-…), Anthropic (sk-ant-…): a digit somewhere, so "sk-learn-…" is no key.
  { kind: "api-key", pattern: /\bsk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}/g },
  // Stripe secret and restricted keys.
  { kind: "api-key", pattern: /\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}/g },
  // AWS access key ids (long-lived and temporary).
  { kind: "api-key", pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g },
  // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
  { kind: "api-key", pattern: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g },
  { kind: "api-key", pattern: /\bgithub_pat_[A-Za-z0-9_]{40,}\b/g },
  // Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxo-.
  { kind: "api-key", pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  {
    kind: "card-number",
    pattern: /(?<![\d.,])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d])/g,
    confirm: (m) => {
      const digits = m.replace(/[ -]/g, "").length;
      return digits >= 13 && digits <= 19 && luhn(m);
    },
  },
];

/** Strings shorter than this hold no secret the defaults look for (a card number has 13 digits). */
export const SHORTEST_SECRET = 13;
