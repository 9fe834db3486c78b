import { InvalidArgumentError } from "../../core/errors.js";
import { workerWait } from "../../operator/workerWait.js";
import { openStore } from "../../store/open.js";
import { RUN_STATUSES, type RunStatus } from "../../store/types.js";
import { ago, printJson, printLine, table } from "../output.js";
import { positiveInteger } from "../numbers.js";

export async function runsCommand(opts: {
  store: string;
  status?: string;
  limit: string;
  json?: boolean;
}): Promise<void> {
  if (opts.status !== undefined && !RUN_STATUSES.includes(opts.status as RunStatus)) {
    throw new InvalidArgumentError(
      `--status must be one of ${RUN_STATUSES.join(", ")}, received '${opts.status}'`,
    );
  }
  const limit = positiveInteger("--limit", opts.limit);
  const store = await openStore(opts.store, { listen: false, create: false });
  try {
    const runs = await store.listRuns({
      ...(opts.status ? { status: opts.status as RunStatus } : {}),
      limit,
    });
    const live = await store.liveWorkerAgents();
    const waiting = runs.flatMap((r) => workerWait(r, live) ?? []);
    if (opts.json) return printJson({ runs, waitingForWorkers: waiting });
    if (runs.length === 0) return printLine("no runs");
    printLine(
      table([
        ["RUN", "AGENT", "STATUS", "STARTED", "TENANT"],
        ...runs.map((r) => [r.id, r.agent, r.status, ago(r.createdAt), r.tenant ?? "-"]),
      ]),
    );
    for (const w of waiting) printLine(`${w.runId}: ${w.message}`);
  } finally {
    await store.close();
  }
}
