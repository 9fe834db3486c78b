import { text, type Json } from "../../src/core/json.js";
import type { CancelReceipt } from "../../src/saga/receipt.js";
import type { JournalEvent, Store } from "../../src/store/types.js";
import { journaledAfterRequest } from "./order.js";
import type { Invocation, ToolProbe } from "./probe.js";
import type { WorldEffect } from "./world.js";

/** The world's ledgers once every call has ended. */
export interface Truth {
  effects: WorldEffect[];
  /** When the MCP server saw each request cancelled, by idempotency key. */
  ticketCancels: Map<string, number>;
}

/** One cancel as the canceller saw it (wall-clock ms; both processes share the machine's clock). */
export interface CancelRecord {
  runId: string;
  crossProcess: boolean;
  calledAt: number;
  /** When `requestCancel` returned in the process that cancelled. */
  durableAt: number | undefined;
  returnedAt: number;
  /** Why cancel refused (the run had already ended), when it did. */
  refused?: string;
}

/** What one store's cancels did to the world, judged against the services' ledgers. */
export interface Tally {
  cancels: number;
  effectsAfterStop: number;
  toolsEnteredAfterStop: number;
  /** Children the run journaled after its cancel request (ctx.spawn is not refused by one). */
  childrenSpawnedAfterStop: number;
  /** Effect intents of the run or its children journaled after the run's cancel request. */
  intentsAfterStop: number;
  effectsNotInReceipt: number;
  receiptStateWrong: number;
  /** Children that had completed before the cancel: their journal, not a receipt, is checked. */
  journalStateWrong: number;
  effects: number;
  runsNotSettled: number;
  children: Record<string, number>;
  receipts: Record<string, number>;
  /** Tools running at the cancel that returned on their own, their signal never fired. */
  toolsFinishedUnaborted: number;
  samples: { inProcess: number[]; crossProcess: number[]; mcpServer: number[] };
  toReceipt: { inProcess: number[]; crossProcess: number[] };
  /** The first few things worth a look: each violation, and each tool entered after the stop. */
  examples: Record<string, unknown>[];
}

export function emptyTally(): Tally {
  return {
    cancels: 0,
    effectsAfterStop: 0,
    toolsEnteredAfterStop: 0,
    childrenSpawnedAfterStop: 0,
    intentsAfterStop: 0,
    effectsNotInReceipt: 0,
    receiptStateWrong: 0,
    journalStateWrong: 0,
    effects: 0,
    runsNotSettled: 0,
    children: {},
    receipts: {
      committed: 0,
      inFlightCommitted: 0,
      inFlightFailed: 0,
      inFlightUnknown: 0,
      inFlightUnknownDone: 0,
      notStarted: 0,
    },
    toolsFinishedUnaborted: 0,
    samples: { inProcess: [], crossProcess: [], mcpServer: [] },
    toReceipt: { inProcess: [], crossProcess: [] },
    examples: [],
  };
}

/** What a run's own record says about its effects, by idempotency key. */
interface Account {
  /** Listed as done or possibly done (committed; in flight, settled committed or unknown). */
  listed: Set<string>;
  /** Listed as certainly done: the ledger must have them. */
  done: Set<string>;
  /** Listed as certainly not done: the ledger must not have them. */
  failed: Set<string>;
  /** Listed as in flight with an unknown outcome: the ledger settles them either way. */
  unknown: Set<string>;
  fromReceipt: boolean;
}

function accountOf(events: JournalEvent[], tally: Tally): Account {
  const cancelled = events.filter((e) => e.type === "run.cancelled").at(-1);
  const account: Account = {
    listed: new Set(),
    unknown: new Set(),
    done: new Set(),
    failed: new Set(),
    fromReceipt: !!cancelled,
  };
  if (cancelled) {
    const r = cancelled.data as unknown as CancelReceipt;
    for (const e of r.committed) account.done.add(e.key);
    for (const e of r.inFlight) {
      if (e.settled === "committed") account.done.add(e.key);
      if (e.settled === "failed") account.failed.add(e.key);
      if (e.settled === "unknown") account.unknown.add(e.key);
    }
    for (const e of r.inFlight) if (e.settled !== "failed") account.listed.add(e.key);
    for (const k of account.done) account.listed.add(k);
    tally.receipts.committed! += r.committed.length;
    for (const e of r.inFlight) {
      const name = `inFlight${e.settled[0]!.toUpperCase()}${e.settled.slice(1)}`;
      tally.receipts[name] = (tally.receipts[name] ?? 0) + 1;
    }
    tally.receipts.notStarted! += r.notStarted.length;
    return account;
  }
  // A run that ended otherwise (a child done before the cancel reached it): its journal.
  const keys = new Map<string, string>();
  for (const e of events) {
    const d = e.data as Record<string, Json> | null;
    if (e.type === "effect.intent" && e.step) keys.set(e.step, text(d?.key ?? ""));
    const key = keys.get(e.step ?? "");
    if (key === undefined) continue;
    if (e.type === "effect.committed") account.done.add(key);
    if (e.type === "effect.failed") account.failed.add(key);
    if (e.type !== "effect.failed") account.listed.add(key);
  }
  return account;
}

const example = (tally: Tally, what: string, details: object) => {
  if (tally.examples.length < 12) tally.examples.push({ what, ...details });
};

/**
 * Judges one cancel that took: the run and its children against the
 * ledgers (effects after the stop, effects missing from a receipt, receipt
 * entries the ledger contradicts) and the tools' own clocks (how soon each
 * tool running at the cancel saw its signal fire).
 */
export async function judge(
  store: Store,
  truth: Truth,
  probe: ToolProbe,
  c: CancelRecord,
  tally: Tally,
  settled: boolean,
): Promise<void> {
  tally.cancels++;
  if (!settled) tally.runsNotSettled++;
  const children = await store.listRuns({ parentId: c.runId, limit: 1_000 });
  for (const child of children)
    tally.children[child.status] = (tally.children[child.status] ?? 0) + 1;
  const tree = new Set([c.runId, ...children.map((r) => r.id)]);
  const calls = probe.ofRuns(tree);
  const effects = truth.effects.filter((e) => tree.has(e.key.split(":")[0] ?? ""));
  const byKey = new Map<string, WorldEffect>(effects.map((e) => [e.key, e]));
  tally.effects += effects.length;
  const stop = c.durableAt ?? c.calledAt;

  const late = calls.filter((call) => call.enteredAt > stop);
  tally.toolsEnteredAfterStop += late.length;
  for (const call of late) {
    const effect = byKey.get(call.key);
    // The services' clocks may run a few ms early: an effect of this call is after its entry.
    if (effect && effect.at + 5 >= call.enteredAt) {
      tally.effectsAfterStop++;
      example(tally, "effectAfterStop", { ...call, stop, effectAt: effect.at });
    }
  }
  /** Every key some run of the tree accounts for (its receipt or journal), whatever its state. */
  const accounted = new Set<string>();

  const journals = new Map<string, JournalEvent[]>();
  for (const id of tree) journals.set(id, await store.readJournal(id));
  const after = journaledAfterRequest(c.runId, journals);
  tally.childrenSpawnedAfterStop += after.spawned.length;
  tally.intentsAfterStop += after.intents.size;
  for (const childId of after.spawned)
    example(tally, "childSpawnedAfterStop", {
      crossProcess: c.crossProcess,
      childStatus: children.find((r) => r.id === childId)?.status ?? null,
      childToolCalls: calls.filter((i) => i.runId === childId).length,
    });

  for (const [id, journal] of journals) {
    const account = accountOf(journal, tally);
    for (const k of [...account.listed, ...account.failed]) accounted.add(k);
    for (const e of effects) {
      if (!e.key.startsWith(`${id}:`) || account.listed.has(e.key)) continue;
      tally.effectsNotInReceipt++;
      example(tally, "effectNotInReceipt", { runId: id, ...e });
    }
    tally.receipts.inFlightUnknownDone! += [...account.unknown].filter((k) => byKey.has(k)).length;
    const wrong =
      [...account.done].filter((k) => !byKey.has(k)).length +
      [...account.failed].filter((k) => byKey.has(k)).length;
    if (account.fromReceipt) tally.receiptStateWrong += wrong;
    else tally.journalStateWrong += wrong;
    if (wrong > 0)
      example(tally, account.fromReceipt ? "receiptStateWrong" : "journalStateWrong", {
        runId: id,
        wrong,
      });
  }

  // A call entered after the stop is not always an effect after it: its intent may have been
  // journaled just before the request (then its receipt lists it in flight) and its signal fire.
  for (const call of late)
    example(tally, "toolEnteredAfterStop", {
      tool: call.tool,
      child: call.runId !== c.runId,
      crossProcess: c.crossProcess,
      enteredAfterStopMs: call.enteredAt - stop,
      abortedAfterEntryMs: call.abortedAt === undefined ? null : call.abortedAt - call.enteredAt,
      intentAfterRequest: after.intents.has(call.key),
      inReceipt: accounted.has(call.key),
      performed: byKey.has(call.key),
    });

  const kind = c.crossProcess ? "crossProcess" : "inProcess";
  tally.toReceipt[kind].push(c.returnedAt - c.calledAt);
  const running = calls.filter(
    (i) => i.enteredAt <= stop && (i.endedAt === undefined || i.endedAt > c.calledAt),
  );
  if (running.length > 0) {
    const stoppedAt = (i: Invocation) => i.abortedAt ?? i.endedAt ?? Number.POSITIVE_INFINITY;
    tally.samples[kind].push(Math.max(0, ...running.map((i) => stoppedAt(i) - c.calledAt)));
    tally.toolsFinishedUnaborted += running.filter((i) => i.abortedAt === undefined).length;
  }
  const serverCancels = truth.ticketCancels;
  for (const i of running) {
    const at =
      i.tool === "bench.ticket" && i.abortedAt !== undefined ? serverCancels.get(i.key) : undefined;
    if (at !== undefined) tally.samples.mcpServer.push(at - c.calledAt);
  }
}
