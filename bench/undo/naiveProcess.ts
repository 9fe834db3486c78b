/**
 * The naive undo script as a process the harness can SIGKILL:
 * `node naiveProcess.js <toolsUrl> <runsFile> <concurrency>`. The runs file
 * holds the runs still to undo and their calls; it prints "ready", then one
 * JSON report line per run it finished, and exits.
 */
import { readFileSync } from "node:fs";
import type { CatalogEntry } from "../../src/sim/index.js";
import type { ForwardRun } from "./forward.js";
import { naiveUndo } from "./naive.js";

const [toolsUrl, runsFile, concurrency] = process.argv.slice(2);
if (!toolsUrl || !runsFile || !concurrency) {
  process.stderr.write("usage: naiveProcess <toolsUrl> <runsFile> <concurrency>\n");
  process.exit(2);
}
const runs = JSON.parse(readFileSync(runsFile, "utf8")) as ForwardRun[];
const entries = (await (await fetch(`${toolsUrl}/_sim/catalog`)).json()) as CatalogEntry[];
const catalog = new Map(entries.map((e) => [e.operation, e]));
process.stdout.write("ready\n");

// A log nobody reads during the run; the harness counts what was written to it.
const log = (): void => undefined;
const queue = [...runs];
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      const report = await naiveUndo(toolsUrl, catalog, run.runId, run.calls, log);
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }
  }),
);
