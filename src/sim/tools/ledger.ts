import { canonicalJson } from "../../core/json.js";

/** One effect a simulated service performed. Replays served from an idempotency key are not effects. */
export interface SimEffect {
  seq: number;
  service: string;
  operation: string;
  args: unknown;
  result: unknown;
  idempotencyKey?: string;
  /** Milliseconds since the world started (or was reset). */
  atMs: number;
  /** For a side effect: the seq of the effect that caused it. */
  causedBy?: number;
}

/** The same operation with the same arguments, performed more than once. */
export interface SimDuplicate {
  service: string;
  operation: string;
  args: unknown;
  count: number;
  seqs: number[];
  idempotencyKeys: string[];
}

/** Every effect the world performed, in order: the ground truth a benchmark checks against. */
export class EffectLedger {
  private entries: SimEffect[] = [];

  record(effect: Omit<SimEffect, "seq">): SimEffect {
    const entry = { ...effect, seq: this.entries.length + 1 };
    this.entries.push(entry);
    return entry;
  }

  all(): SimEffect[] {
    return structuredClone(this.entries);
  }

  /**
   * Groups by operation and canonical arguments. Two identical emails may be
   * intended, but in a test world where each unit of work has distinct
   * arguments, a group of two is an effect that happened twice.
   */
  duplicates(): SimDuplicate[] {
    const groups = new Map<string, SimEffect[]>();
    for (const e of this.entries) {
      const id = canonicalJson([e.service, e.operation, e.args]);
      groups.set(id, [...(groups.get(id) ?? []), e]);
    }
    return [...groups.values()]
      .filter((g) => g.length > 1)
      .map((g) => ({
        service: g[0]?.service ?? "",
        operation: g[0]?.operation ?? "",
        args: structuredClone(g[0]?.args),
        count: g.length,
        seqs: g.map((e) => e.seq),
        idempotencyKeys: g.flatMap((e) =>
          e.idempotencyKey === undefined ? [] : [e.idempotencyKey],
        ),
      }));
  }

  clear(): void {
    this.entries = [];
  }
}
