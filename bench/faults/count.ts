import type { JournalEvent, RunRecord, Store } from "../../src/store/types.js";
import type { CrashCounts } from "../crash/index.js";
import type { RecordingToolService } from "../crash/toolService.js";
import { BLIND_TOOLS, SERVICE_TOOLS } from "./workload.js";

/** What one scenario saw, from the world's side (the service) and the journal's. */
export interface FaultCounts extends Pick<
  CrashCounts,
  "runs" | "completed" | "parked" | "failed" | "duplicateEffects" | "blindReexecutions"
> {
  runsLost: number;
  failedByInfrastructure: number;
  crossRunFailures: number;
  phantoms: number;
  missingEffects: number;
  injected: number;
}

export const ZERO_COUNTS: FaultCounts = {
  runs: 0,
  completed: 0,
  parked: 0,
  failed: 0,
  duplicateEffects: 0,
  blindReexecutions: 0,
  runsLost: 0,
  failedByInfrastructure: 0,
  crossRunFailures: 0,
  phantoms: 0,
  missingEffects: 0,
  injected: 0,
};

/** A started run and the error codes it was allowed to fail with. */
export interface StartedRun {
  id: string;
  expect: readonly string[];
}

const SETTLED = new Set(["completed", "parked", "failed", "dead-lettered", "cancelled"]);

export function isSettled(run: RunRecord | undefined): boolean {
  return run !== undefined && SETTLED.has(run.status);
}

/**
 * A waiting run whose child (or grandchild) is parked waits, like the child,
 * for a human to decide an unknown effect: it is parked in all but name.
 */
export async function parkedBelow(store: Store, run: RunRecord | undefined): Promise<boolean> {
  if (run?.status !== "waiting") return false;
  for (const child of await store.listRuns({ parentId: run.id, limit: 1_000 }))
    if (child.status === "parked" || (await parkedBelow(store, child))) return true;
  return false;
}

/** What the journal knows about one tool's unit of work. */
interface Known {
  committed: boolean;
  unknown: boolean;
  failed: boolean;
  parkedOn: boolean;
  runId: string;
  step: string;
}

/** Every effect step of every run, by `tool/unit`. */
async function journalEffects(store: Store): Promise<Map<string, Known>> {
  const out = new Map<string, Known>();
  for (const run of await store.listRuns({ limit: 1_000_000 })) {
    const events: JournalEvent[] = await store.readJournal(run.id);
    const unitOf = new Map<string, string>();
    for (const e of events) {
      if (!e.step) continue;
      const data = (e.data ?? {}) as { name?: string; args?: { unit?: unknown } };
      if (e.type === "effect.intent" && typeof data.args?.unit === "string") {
        const id = `${data.name}/${data.args.unit}`;
        unitOf.set(e.step, id);
        if (!out.has(id)) {
          const parkedOn =
            run.status === "parked" &&
            (run.error?.details as { step?: unknown } | undefined)?.step === e.step;
          out.set(id, {
            committed: false,
            unknown: false,
            failed: false,
            parkedOn,
            runId: run.id,
            step: e.step,
          });
        }
      }
      const known = out.get(unitOf.get(e.step) ?? "");
      if (!known) continue;
      if (e.type === "effect.committed") known.committed = true;
      if (e.type === "effect.unknown") known.unknown = true;
      if (e.type === "effect.failed") known.failed = true;
    }
  }
  return out;
}

/** Counts one scenario after its faults stopped and its runs settled; `anomalies` explains nonzero targets. */
export async function countScenario(
  store: Store,
  started: readonly StartedRun[],
  service: RecordingToolService,
  injected: number,
  anomalies: string[],
): Promise<FaultCounts> {
  const counts: FaultCounts = {
    ...ZERO_COUNTS,
    runs: started.length,
    injected,
    duplicateEffects: service.repeats(SERVICE_TOOLS),
    blindReexecutions: service.repeats(BLIND_TOOLS),
  };
  const note = (text: string) => {
    if (anomalies.length < 8) anomalies.push(text);
  };
  const explain = async (runId: string, text: string) => {
    if (anomalies.length < 8) note(`${text} — ${await sequence(store, runId)}`);
  };
  for (const { id, expect } of started) {
    const run = await store.getRun(id);
    if (await parkedBelow(store, run)) {
      counts.parked++;
      continue;
    }
    if (!isSettled(run)) {
      counts.runsLost++;
      await explain(id, `run ${id} still ${run?.status ?? "missing"}`);
      continue;
    }
    if (run!.status === "completed") counts.completed++;
    else if (run!.status === "parked") counts.parked++;
    else if (run!.status === "failed" || run!.status === "dead-lettered") {
      counts.failed++;
      const code = run!.error?.code ?? "";
      if (!expect.includes(code)) {
        counts.failedByInfrastructure++;
        await explain(id, `run ${id} ${run!.status}: ${code}`);
      }
      if (expect.length === 0) counts.crossRunFailures++;
    }
  }
  const journal = await journalEffects(store);
  const performed = new Map<string, number>();
  for (const p of service.performed) {
    const id = `${p.tool}/${p.unit}`;
    performed.set(id, (performed.get(id) ?? 0) + 1);
  }
  for (const [id, times] of performed) {
    const known = journal.get(id);
    if (times > 1) note(`${id} performed ${times} times (journal: ${describe(known)})`);
    if (known && !known.failed && (known.committed || known.unknown || known.parkedOn)) continue;
    counts.phantoms++;
    if (known) await explain(known.runId, `phantom ${id}: performed, journal ${describe(known)}`);
    else note(`phantom ${id}: performed, no intent in any journal`);
  }
  for (const [id, known] of journal) {
    if (!known.committed || performed.has(id)) continue;
    counts.missingEffects++;
    note(`missing ${id}: journal committed in ${known.runId} step ${known.step}, never performed`);
  }
  return counts;
}

/** A run's journal in one line: `step:type(code)` for each event, for the anomaly report. */
async function sequence(store: Store, runId: string): Promise<string> {
  const events = await store.readJournal(runId);
  const text = events
    .map((e) => {
      const error = (e.data as { error?: { code?: string } } | null)?.error?.code;
      return `${e.step ?? ""}:${e.type}${error ? `(${error})` : ""}`;
    })
    .join(" ");
  return text.length > 900 ? `${text.slice(0, 300)} … ${text.slice(-600)}` : text;
}

function describe(known: Known | undefined): string {
  if (!known) return "no intent";
  const states = (["committed", "unknown", "failed", "parkedOn"] as const).filter((k) => known[k]);
  return `${known.runId} step ${known.step} ${states.join("+") || "intent only"}`;
}

export function sumCounts(all: readonly FaultCounts[]): FaultCounts {
  const out = { ...ZERO_COUNTS };
  for (const c of all) for (const k of Object.keys(out) as (keyof FaultCounts)[]) out[k] += c[k];
  return out;
}
