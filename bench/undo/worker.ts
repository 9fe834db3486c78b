/**
 * A worker process for the undo benchmark: `node worker.js <store> <toolsUrl> <leaseMs>`.
 * It defines the fan-out's tools (so it can call their inverses) and performs
 * undo runs; it prints "ready" once it is claiming them. The harness SIGKILLs it at random.
 */
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { defineFanout } from "./tools.js";

const [store, toolsUrl, leaseMs] = process.argv.slice(2);
if (!store || !toolsUrl || !leaseMs) {
  process.stderr.write("usage: worker <store> <toolsUrl> <leaseMs>\n");
  process.exit(2);
}
const flotilla = await Flotilla.open({ store, worker: false, stopGraceMs: 200 });
defineFanout(flotilla, toolsUrl);
await flotilla.worker({ concurrency: 8, leaseMs: Number(leaseMs), pollMs: 50 });
process.stdout.write("ready\n");
process.on("SIGTERM", () => void flotilla.close().then(() => process.exit(0)));
