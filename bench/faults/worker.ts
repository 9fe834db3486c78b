/**
 * A worker process for the fault benchmark:
 * `node worker.js <store> <serviceUrl> <options as JSON>`. It prints "ready"
 * once it is claiming runs. On SQLite it waits for the store's owner to be
 * gone (a stopped owner counts as gone once its heartbeat is stale).
 */
import { setTimeout as delay } from "node:timers/promises";
import { isFlotillaError } from "../../src/core/errors.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { randomProvider } from "../crash/agents.js";
import type { ChildWorkerOptions } from "./processes.js";
import { defineFleet } from "./workload.js";

const [store, serviceUrl, json] = process.argv.slice(2);
if (!store || !serviceUrl || !json) {
  process.stderr.write("usage: worker <store> <serviceUrl> <options-json>\n");
  process.exit(2);
}
const options = JSON.parse(json) as ChildWorkerOptions;
const flotilla = await Flotilla.open({
  store,
  providers: { default: randomProvider },
  worker: false,
  stopGraceMs: 200,
});
defineFleet(flotilla, serviceUrl, options.agents);
for (;;) {
  try {
    await flotilla.worker({
      concurrency: options.concurrency,
      leaseMs: options.leaseMs,
      pollMs: 50,
    });
    break;
  } catch (err) {
    // A frozen SQLite owner may hold the write lock too: registering then fails with SQLITE_BUSY.
    const busy = (err as { code?: unknown }).code === "SQLITE_BUSY";
    if (!isFlotillaError(err, "FLOTILLA_STORE_OWNED") && !busy) throw err;
    if (busy)
      process.stderr.write(`fault worker ${process.pid}: registering hit SQLITE_BUSY, retrying\n`);
    await delay(250);
  }
}
process.stdout.write("ready\n");
process.on("SIGTERM", () => void flotilla.close().then(() => process.exit(0)));
