import { canonicalJson, type Json } from "../../core/json.js";
import { storableCopy } from "../../core/payload.js";
import type { PayloadPath, RedactOptions } from "./options.js";
import { DEFAULT_PATTERNS, SHORTEST_SECRET, type SecretPattern } from "./patterns.js";

/** The replacement of a secret of `kind`. */
export function redacted(kind: string): string {
  return `[REDACTED:${kind}]`;
}

/** Keys whose values are content hashes the runtime reads back (never secrets, never to be changed). */
const HASH_KEYS = new Set(["messageRef", "messagesRef"]);

function plainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Replaces secrets in payloads before they are stored or traced. A value
 * with nothing to redact comes back as the same object, so the cost of a
 * clean payload is one walk over its strings, and nothing is copied.
 */
export class Redactor {
  /** False when nothing is ever redacted (`redact: false`, or no defaults, patterns or hook). */
  readonly active: boolean;
  private readonly defaults: readonly SecretPattern[];
  private readonly custom: readonly RegExp[];
  private readonly hook: RedactOptions["hook"];
  private hookFailed = false;

  constructor(
    options: RedactOptions | false | undefined = {},
    private readonly warn: (message: string, err: unknown) => void = () => undefined,
  ) {
    const o = options === false ? { defaults: false } : options;
    this.defaults = o.defaults === false ? [] : DEFAULT_PATTERNS;
    this.custom = (o.patterns ?? []).map((p) =>
      p.global ? new RegExp(p.source, p.flags) : new RegExp(p.source, `${p.flags}g`),
    );
    this.hook = o.hook;
    this.active = this.defaults.length > 0 || this.custom.length > 0 || this.hook !== undefined;
  }

  /** `text` with every secret the patterns find replaced (the hook is not asked). */
  text(text: string): string {
    let out = text;
    // One pass per pattern: V8 skips ahead to each pattern's first characters, which an
    // alternation of them all would defeat (measured: twice as slow on plain prose).
    if (out.length >= SHORTEST_SECRET)
      for (const p of this.defaults)
        out = out.replace(p.pattern, (match: string) =>
          p.confirm && !p.confirm(match)
            ? match
            : `${p.keep?.exec(match)?.[0] ?? ""}${redacted(p.kind)}`,
        );
    for (const p of this.custom) out = out.replace(p, redacted("custom"));
    return out;
  }

  /** `value` with its secrets redacted: the same object when there were none. */
  value<T>(value: T): T {
    if (!this.active || value === undefined) return value;
    return this.walk(value, this.newPath(), false) as T;
  }

  /**
   * A payload read back by the runtime (journal event data, a dead letter):
   * as `value`, but content hashes (`messageRef`) are left alone.
   */
  stored<T>(value: T): T {
    if (!this.active || value === undefined) return value;
    return this.walk(value, this.newPath(), true) as T;
  }

  /**
   * What a tool should be given when the journal holds `stored` and replayed
   * agent code passed `live`: the live value when it is what was stored,
   * once redacted (the journal lost its secrets, the tool must still get
   * them), else the stored value (the code changed: the journal decides).
   */
  restore(live: unknown, stored: Json | undefined): Json | undefined {
    if (!this.active) return stored;
    const copy = storableCopy(live as Json | undefined, "the arguments of a replayed call");
    return canonicalJson(this.value(copy) ?? null) === canonicalJson(stored ?? null)
      ? copy
      : stored;
  }

  /** Where the walk is, for the hook, its one reader: none kept (nor allocated) without a hook. */
  private newPath(): (string | number)[] | undefined {
    return this.hook ? [] : undefined;
  }

  private walk(v: unknown, path: (string | number)[] | undefined, hashes: boolean): unknown {
    if (typeof v === "string") return this.leaf(this.text(v), path);
    if (typeof v === "number") return this.leaf(this.cardNumber(v), path);
    if (v === null || typeof v === "boolean") return this.leaf(v, path);
    if (typeof v !== "object") return v;
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        path?.push(i);
        const r = this.walk(v[i], path, hashes);
        path?.pop();
        if (r !== v[i]) (out ??= v.slice())[i] = r;
      }
      return out ?? v;
    }
    if (!plainObject(v)) return v;
    let out: Record<string, unknown> | undefined;
    // Keys, not entries: no [key, value] pair allocated per member of every payload.
    for (const k of Object.keys(v)) {
      if (hashes && HASH_KEYS.has(k)) continue;
      const child = (v as Record<string, unknown>)[k];
      path?.push(k);
      const r = this.walk(child, path, hashes);
      path?.pop();
      if (r !== child) (out ??= { ...v })[k] = r;
    }
    return out ?? v;
  }

  /** A card number stored as a JSON number is still a card number. */
  private cardNumber(n: number): number | string {
    if (this.defaults.length === 0 || !Number.isSafeInteger(n) || n < 1e12) return n;
    const text = String(n);
    const redactedText = this.text(text);
    return redactedText === text ? n : redactedText;
  }

  private leaf(value: Json, path: PayloadPath | undefined): unknown {
    if (!this.hook || path === undefined) return value;
    try {
      return this.hook(value, path);
    } catch (err) {
      if (!this.hookFailed) this.warn("the redact hook threw; the value was redacted", err);
      this.hookFailed = true;
      return redacted("hook-error");
    }
  }
}

/** Redacts nothing: for hosts without a redactor. */
export const NO_REDACTION = new Redactor(false);

/** The host's redactor, or one that redacts nothing. */
export function redactorOf(host: { readonly redactor?: Redactor | undefined }): Redactor {
  return host.redactor ?? NO_REDACTION;
}
