import type { Json } from "../core/json.js";

/** One message of a list hashed before, and the chain up to it. */
export interface ChainLink {
  /** A private copy of the message as hashed; undefined when it is not plain JSON (never matched). */
  snapshot: Json | undefined;
  /** Hash of the message's canonical JSON. */
  hash: Buffer;
  /** Head of the chain ending at this message, and its hex (the blob key). */
  head: Buffer;
  headHex: string;
}

/** Chains kept per execution: a run may hold a few conversations at once (branches, sub-dialogues). */
const MAX_CHAINS = 4;
/** Heads read back from the journal on replay; only the latest few can prefix a new call. */
const MAX_RECORDED = 16;

/**
 * The message lists one execution hashed, so a conversation that resends its
 * whole growing history every turn hashes only what is new.
 *
 * A list is matched against a remembered one by value, not by identity: each
 * message is compared with a private copy taken when it was hashed. Callers
 * may mutate a message in place between turns (a WeakMap from object to hash
 * would then return a stale hash), or rebuild their history with new objects
 * (identity would miss). The comparison allocates nothing and, for the
 * unchanged messages a conversation resends, meets the same string instances,
 * so it costs a few pointer compares per message: far less than
 * canonicalising and hashing it again. It lives as long as its execution.
 */
export class MessageChains {
  private chains: ChainLink[][] = [];
  private readonly recorded = new Set<string>();

  /** The remembered chain sharing the longest prefix with `values`, and that prefix's length. */
  longestPrefix(values: readonly unknown[]): { chain: ChainLink[] | undefined; length: number } {
    let best: ChainLink[] | undefined;
    let length = 0;
    for (const chain of this.chains) {
      const n = Math.min(chain.length, values.length);
      let i = 0;
      while (i < n && sameJson(values[i], (chain[i] as ChainLink).snapshot)) i++;
      if (i > length) {
        best = chain;
        length = i;
      }
    }
    return { chain: best, length };
  }

  /**
   * Remembers `links` appended to the first `length` links of `chain`: in
   * place when they extend the whole chain (the usual turn), else as a new
   * chain, so a conversation that forked from another keeps both. The chain
   * used moves to the front; the least recently used beyond a few is dropped.
   */
  extend(chain: ChainLink[] | undefined, length: number, links: readonly ChainLink[]): void {
    let target: ChainLink[];
    // A list the chain already holds whole (resent, or shortened) adds nothing to remember.
    if (chain && (length === chain.length || links.length === 0)) {
      target = chain;
      this.chains = this.chains.filter((c) => c !== chain);
    } else {
      target = chain ? chain.slice(0, length) : [];
    }
    for (const l of links) target.push(l);
    this.chains.unshift(target);
    if (this.chains.length > MAX_CHAINS) this.chains.length = MAX_CHAINS;
  }

  /** A chain head the journal recorded: its nodes and messages are in the store. */
  recordedHead(hex: string): void {
    this.recorded.delete(hex);
    this.recorded.add(hex);
    if (this.recorded.size > MAX_RECORDED)
      this.recorded.delete(this.recorded.values().next().value as string);
  }

  isRecorded(hex: string): boolean {
    return this.recorded.has(hex);
  }
}

const owners = new WeakMap<object, MessageChains>();

/** The chains of one owner (an execution): collected with it, never shared between runs. */
export function messageChainsOf(owner: object): MessageChains {
  let chains = owners.get(owner);
  if (!chains) owners.set(owner, (chains = new MessageChains()));
  return chains;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` sharing its strings, or undefined when `value` is not
 * plain JSON whose canonical form `sameJson` can vouch for (a class
 * instance, a `toJSON`, a function, a non-finite number): such a message is
 * hashed afresh every time.
 */
export function plainCopy(value: unknown): Json | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : undefined;
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const out: Json[] = [];
        for (const v of value as unknown[]) {
          const c = plainCopy(v);
          if (c === undefined) return undefined;
          out.push(c);
        }
        return out;
      }
      if (!isPlainObject(value)) return undefined;
      const out: { [key: string]: Json } = {};
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        // JSON drops undefined members and sees own members only; so does the copy.
        if (v === undefined || !Object.hasOwn(value, k)) continue;
        // Assigning it would set the copy's prototype, not a member.
        if (k === "__proto__") return undefined;
        const c = plainCopy(v);
        if (c === undefined) return undefined;
        out[k] = c;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/**
 * Whether `value` has the same canonical JSON as `snapshot` (a `plainCopy`).
 * Allocates nothing. Inherited enumerable members (a polluted prototype)
 * count as members, so they only ever make a match fail.
 */
export function sameJson(value: unknown, snapshot: Json | undefined): boolean {
  if (value === snapshot) return snapshot !== undefined;
  if (typeof value !== "object" || value === null) return false;
  if (typeof snapshot !== "object" || snapshot === null) return false;
  if (Array.isArray(snapshot)) {
    if (!Array.isArray(value) || value.length !== snapshot.length) return false;
    for (let i = 0; i < snapshot.length; i++)
      if (!sameJson((value as unknown[])[i], snapshot[i])) return false;
    return true;
  }
  if (Array.isArray(value) || !isPlainObject(value)) return false;
  let members = 0;
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    // A copy never holds "__proto__" (see plainCopy); reading it would reach the prototype.
    if (k === "__proto__" || !sameJson(v, snapshot[k])) return false;
    members++;
  }
  let expected = 0;
  for (const _k in snapshot) expected++;
  return members === expected;
}
