import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "../../core/errors.js";
import { isDeadLetterClass, DEAD_LETTER_CLASSES } from "../../deadletter/taxonomy.js";
import { DEAD_LETTER_STATUSES, type DeadLetterStatus } from "../../deadletter/types.js";
import type { RedrivePatch } from "../../deadletter/redrive.js";
import { withFlotilla } from "../session.js";
import { ago, printJson, printLine, table } from "../output.js";
import { positiveInteger, positiveNumber } from "../numbers.js";

function checkClass(value: string | undefined): void {
  if (value !== undefined && !isDeadLetterClass(value))
    throw new InvalidArgumentError(
      `--class must be one of ${DEAD_LETTER_CLASSES.join(", ")}, received '${value}'`,
    );
}

function readPatch(file: string | undefined): RedrivePatch | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(`--patch: cannot read '${file}': ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as RedrivePatch;
  } catch {
    throw new InvalidArgumentError(`--patch: '${file}' is not JSON`);
  }
}

const by = () => process.env.USER ?? "operator";

export async function dlqListCommand(opts: {
  store: string;
  class?: string;
  status?: string;
  limit: string;
  json?: boolean;
}): Promise<void> {
  checkClass(opts.class);
  if (opts.status !== undefined && !DEAD_LETTER_STATUSES.includes(opts.status as DeadLetterStatus))
    throw new InvalidArgumentError(
      `--status must be one of ${DEAD_LETTER_STATUSES.join(", ")}, received '${opts.status}'`,
    );
  const limit = positiveInteger("--limit", opts.limit);
  const entries = await withFlotilla(opts.store, (f) =>
    f.listDeadLetters({
      ...(opts.class ? { class: opts.class as never } : {}),
      ...(opts.status ? { status: opts.status as DeadLetterStatus } : {}),
      limit,
    }),
  );
  if (opts.json) return printJson({ deadLetters: entries });
  if (entries.length === 0) return printLine("no dead letters");
  printLine(
    table([
      ["ID", "CLASS", "STATUS", "RUN", "AGENT", "COST USD", "CAPTURED"],
      ...entries.map((d) => [
        d.id,
        d.class,
        d.status,
        d.runId,
        d.agent,
        d.context.cost.usd.toFixed(4),
        ago(d.createdAt),
      ]),
    ]),
  );
}

export async function dlqShowCommand(
  id: string,
  opts: { store: string; json?: boolean },
): Promise<void> {
  const d = await withFlotilla(opts.store, (f) => f.getDeadLetter(id));
  if (opts.json) return printJson(d);
  const c = d.context;
  printLine(`dead letter ${d.id}  class ${d.class}  status ${d.status}`);
  printLine(`run ${d.runId}  agent ${d.agent}  root ${d.rootId}  tenant ${d.tenant ?? "-"}`);
  if (d.error) printLine(`error: ${d.error.message}`);
  printLine(`input: ${JSON.stringify(c.input)}`);
  printLine(`checkpoint: ${c.checkpoint ? `step ${c.checkpoint.step}` : "none (starts over)"}`);
  printLine(
    `spent: $${c.cost.usd.toFixed(4)}, ${c.cost.inputTokens} input + ${c.cost.outputTokens} output tokens in ${c.cost.llmCalls} LLM calls, ${c.steps} steps`,
  );
  printLine(`partial results: ${c.partialResults.length}`);
  for (const a of c.attempts)
    printLine(
      `  failed ${a.kind} ${a.name}@${a.step ?? "run"}: ${a.chain.map((e) => e.message).join(" ← ")}`,
    );
  for (const e of c.effects) printLine(`  effect ${e.tool}@${e.step} key=${e.key} ${e.state}`);
  if (d.resolution) printLine(`resolution: ${JSON.stringify(d.resolution)}`);
}

export async function dlqRedriveCommand(
  id: string | undefined,
  opts: {
    store: string;
    class?: string;
    patch?: string;
    rate: string;
    reason?: string;
    json?: boolean;
  },
): Promise<void> {
  if ((id === undefined) === (opts.class === undefined))
    throw new InvalidArgumentError("give a dead-letter id or --class, not both");
  checkClass(opts.class);
  const rate = positiveNumber("--rate", opts.rate);
  const patch = readPatch(opts.patch);
  const options = {
    by: by(),
    ...(opts.reason ? { reason: opts.reason } : {}),
    ...(patch ? { patch } : {}),
  };
  const out = await withFlotilla(opts.store, async (f) =>
    id !== undefined
      ? { redriven: [(await f.redrive(id, options)).id], skipped: [] }
      : f.redriveClass(opts.class as never, { ...options, perSecond: rate }),
  );
  if (opts.json) return printJson(out);
  printLine(`redriven: ${out.redriven.length ? out.redriven.join(", ") : "none"}`);
  for (const s of out.skipped) printLine(`skipped ${s.id}: ${s.reason}`);
}

export async function dlqDiscardCommand(
  id: string,
  opts: { store: string; reason?: string; json?: boolean },
): Promise<void> {
  if (!opts.reason) throw new InvalidArgumentError("discard needs --reason");
  const reason = opts.reason;
  const d = await withFlotilla(opts.store, (f) => f.discardDeadLetter(id, reason, by()));
  if (opts.json) return printJson(d);
  printLine(`discarded dead letter ${d.id} (${reason})`);
}
