import { InvalidArgumentError } from "../../core/errors.js";
import type { Json } from "../../core/json.js";
import type { EffectDecision } from "../../effects/resolve.js";
import { withFlotilla } from "../session.js";
import { printJson, printLine } from "../output.js";
import { printReport } from "./undo.js";

function parseJsonOption(name: string, text: string | undefined): Json {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw new InvalidArgumentError(`${name} must be JSON, received '${text}'`);
  }
}

export async function cancelCommand(
  runId: string,
  opts: { store: string; reason?: string; json?: boolean; compensate?: boolean },
): Promise<void> {
  const receipt = await withFlotilla(opts.store, (f) =>
    f.cancel(runId, {
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.compensate ? { compensate: true } : {}),
    }),
  );
  if (receipt.undo && !receipt.undo.complete) process.exitCode = 1;
  if (opts.json) return printJson(receipt);
  printLine(`cancelled run ${runId} (${receipt.reason})`);
  const list = (label: string, items: { step: string; tool: string }[]) =>
    printLine(
      `  ${label}: ${items.length ? items.map((e) => `${e.tool}@${e.step}`).join(", ") : "none"}`,
    );
  list("committed", receipt.committed);
  printLine(
    `  in flight: ${receipt.inFlight.length ? receipt.inFlight.map((e) => `${e.tool}@${e.step} (settled: ${e.settled})`).join(", ") : "none"}`,
  );
  printLine(
    `  never started: ${receipt.notStarted.length ? receipt.notStarted.map((e) => `${e.tool}@${e.step}${e.waitingFor ? ` (was waiting for ${e.waitingFor})` : ""}`).join(", ") : "none"}`,
  );
  list("deferred, never attempted", receipt.deferred);
  if (receipt.children.length)
    printLine(`  children asked to cancel: ${receipt.children.join(", ")}`);
  if (receipt.undo) printReport(receipt.undo);
}

export async function resolveCommand(
  runId: string,
  step: string,
  opts: {
    store: string;
    committed?: boolean;
    retry?: boolean;
    failed?: boolean;
    result?: string;
    reason?: string;
    json?: boolean;
  },
): Promise<void> {
  const chosen = [opts.committed, opts.retry, opts.failed].filter(Boolean).length;
  if (chosen !== 1)
    throw new InvalidArgumentError("give exactly one of --committed, --retry, --failed");
  const decision: EffectDecision = opts.committed
    ? { outcome: "committed", result: parseJsonOption("--result", opts.result) }
    : opts.retry
      ? { outcome: "retry" }
      : { outcome: "failed", reason: opts.reason ?? "failed by operator" };
  const by = process.env.USER ?? "operator";
  await withFlotilla(opts.store, (f) => f.resolveEffect(runId, step, decision, by));
  if (opts.json) return printJson({ runId, step, ...decision, by, status: "pending" });
  printLine(
    `run ${runId}: effect at step ${step} resolved as ${decision.outcome}; the run will resume`,
  );
}

export async function signalCommand(
  runId: string,
  name: string,
  opts: { store: string; payload?: string; json?: boolean },
): Promise<void> {
  const payload = parseJsonOption("--payload", opts.payload);
  await withFlotilla(opts.store, (f) => f.signal(runId, name, payload));
  if (opts.json) return printJson({ runId, signal: name, payload });
  printLine(`sent signal '${name}' to run ${runId}`);
}

export async function retryCommand(
  runId: string,
  opts: { store: string; reason?: string; json?: boolean },
): Promise<void> {
  const by = process.env.USER ?? "operator";
  await withFlotilla(opts.store, (f) =>
    f.retry(runId, { by, ...(opts.reason === undefined ? {} : { reason: opts.reason }) }),
  );
  if (opts.json) return printJson({ runId, status: "pending", by, reason: opts.reason ?? null });
  printLine(`run ${runId} will resume from its journal; completed steps are not repeated`);
}
