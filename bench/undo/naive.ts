import type { Json } from "../../src/core/json.js";
import type { CatalogEntry } from "../../src/sim/index.js";
import type { PerformedCall } from "./forward.js";

/** What each inverse in the catalog is called with, from the forward call's arguments and result. */
const INVERSE_ARGS: Record<string, (args: Json, result: Json) => object> = {
  "email.deleteDraft": (_a, r) => ({ draftId: field(r, "draftId") }),
  "calendar.cancelEvent": (_a, r) => ({ eventId: field(r, "eventId") }),
  "payments.refund": (_a, r) => ({ chargeId: field(r, "chargeId") }),
  "crm.revertRecord": (a, r) => ({ id: field(a, "id"), revision: field(r, "revision") }),
};

export function field(value: Json, name: string): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value[name] ?? null)
    : null;
}

/** The inverse operation and its arguments for a performed call, if the catalog names one. */
export function inverseCall(
  catalog: ReadonlyMap<string, CatalogEntry>,
  call: { tool: string; args: Json; result: Json },
): { operation: string; args: object } | undefined {
  const inverse = catalog.get(call.tool)?.inverse;
  const build = inverse === undefined ? undefined : INVERSE_ARGS[inverse];
  return inverse && build ? { operation: inverse, args: build(call.args, call.result) } : undefined;
}

/** What the naive script tells its caller: the whole run, "undone". */
export interface NaiveReport {
  runId: string;
  status: "undone";
  /** Errors it wrote to its log and went on past. */
  loggedErrors: number;
}

/**
 * The undo the post describes: walk the run's calls newest first, call each
 * one's inverse from the catalog once, log and ignore errors, skip what has
 * no inverse, and report the run undone. No idempotency key: a script run
 * again after a crash starts from the top and calls every inverse again.
 */
export async function naiveUndo(
  toolsUrl: string,
  catalog: ReadonlyMap<string, CatalogEntry>,
  runId: string,
  calls: readonly PerformedCall[],
  log: (line: string) => void,
): Promise<NaiveReport> {
  let loggedErrors = 0;
  for (const call of [...calls].reverse()) {
    const inverse = inverseCall(catalog, call);
    if (!inverse) continue;
    try {
      const res = await fetch(`${toolsUrl}/${inverse.operation.replace(".", "/")}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(inverse.args),
      });
      if (!res.ok) throw new Error(`${inverse.operation} answered ${res.status}`);
      await res.body?.cancel();
    } catch (err) {
      loggedErrors++;
      log(`undo ${runId}: ${call.tool} → ${inverse.operation} failed: ${String(err)}`);
    }
  }
  return { runId, status: "undone", loggedErrors };
}
