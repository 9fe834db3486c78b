import { canonicalJson, type Json } from "../../src/core/json.js";
import type { CatalogEntry, SimEffect } from "../../src/sim/index.js";
import type { ForwardRun } from "./forward.js";
import { inverseCall } from "./naive.js";

/** What the world's own ledger says became of one forward effect. */
export interface EffectFate {
  runId: string;
  /** The forward call's idempotency key, as the ledger recorded it. */
  key: string;
  operation: string;
  /** Whether the catalog has an inverse for it. */
  hasInverse: boolean;
  /** How many times its inverse was performed (each a ledger entry). */
  inverses: number;
  /** Side effects those inverse performances caused (cancellation notices, receipts). */
  sideEffects: number;
}

const asJson = (v: unknown): Json => (v ?? null) as Json;

/** The thing an inverse acts on, the same string from either side: `email.deleteDraft {"draftId":"dr_000012"}`. */
function targetOf(operation: string, args: object): string {
  return `${operation} ${canonicalJson(args)}`;
}

/**
 * Reads the fate of every forward effect of `runs` from the ledger alone:
 * the forward effect is found by the idempotency key its call sent; its
 * inverse by the operation the catalog names and the thing it acts on
 * (draft, event, charge, record revision); side effects by `causedBy`.
 * Also returns the forward effects the runs' journals do not account for.
 */
export function fatesFromLedger(
  ledger: readonly SimEffect[],
  forwardEnd: number,
  catalog: ReadonlyMap<string, CatalogEntry>,
  runs: readonly ForwardRun[],
): { fates: EffectFate[]; unaccounted: number } {
  const runOfKey = new Map<string, string>();
  for (const r of runs) for (const c of r.calls) runOfKey.set(c.key, r.runId);
  const inverseSeqs = new Map<string, number[]>();
  const caused = new Map<number, number>();
  for (const e of ledger) {
    if (e.causedBy !== undefined) caused.set(e.causedBy, (caused.get(e.causedBy) ?? 0) + 1);
    else if (e.seq > forwardEnd) {
      const target = targetOf(`${e.service}.${e.operation}`, e.args as object);
      inverseSeqs.set(target, [...(inverseSeqs.get(target) ?? []), e.seq]);
    }
  }
  const fates: EffectFate[] = [];
  let unaccounted = 0;
  for (const e of ledger) {
    if (e.seq > forwardEnd || e.causedBy !== undefined) continue;
    const runId = e.idempotencyKey === undefined ? undefined : runOfKey.get(e.idempotencyKey);
    if (runId === undefined || e.idempotencyKey === undefined) {
      unaccounted++;
      continue;
    }
    const operation = `${e.service}.${e.operation}`;
    const inverse = inverseCall(catalog, {
      tool: operation,
      args: asJson(e.args),
      result: asJson(e.result),
    });
    const seqs = inverse ? (inverseSeqs.get(targetOf(inverse.operation, inverse.args)) ?? []) : [];
    fates.push({
      runId,
      key: e.idempotencyKey,
      operation,
      hasInverse: inverse !== undefined,
      inverses: seqs.length,
      sideEffects: seqs.reduce((n, s) => n + (caused.get(s) ?? 0), 0),
    });
  }
  return { fates, unaccounted };
}

/** Per-effect verdicts both columns are scored on. */
export const reversed = (f: EffectFate): boolean => f.inverses > 0;

/** Every effect with an inverse reversed, each exactly once. */
export function fullyUndone(fates: readonly EffectFate[]): boolean {
  return fates.every((f) => !f.hasInverse || f.inverses === 1);
}
