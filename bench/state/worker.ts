/**
 * A worker process for the state benchmark's crash variant:
 * `node worker.js <store> <leaseMs> <concurrency>`. It prints "ready" once it
 * claims runs; the harness SIGKILLs it at random moments.
 */
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { defineAgents } from "./agents.js";

const [store, leaseMs, concurrency] = process.argv.slice(2);
if (!store || !leaseMs || !concurrency) {
  process.stderr.write("usage: worker <store> <leaseMs> <concurrency>\n");
  process.exit(2);
}
const flotilla = await Flotilla.open({ store, worker: false, stopGraceMs: 200 });
defineAgents(flotilla);
await flotilla.worker({ concurrency: Number(concurrency), leaseMs: Number(leaseMs), pollMs: 50 });
process.stdout.write("ready\n");
process.on("SIGTERM", () => void flotilla.close().then(() => process.exit(0)));
