/**
 * A worker process for the crash benchmark: `node worker.js <store> <serviceUrl> <leaseMs>`.
 * It prints "ready" once it is claiming runs; the harness SIGKILLs it at random.
 */
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { randomProvider, setupCrashAgents } from "./agents.js";

const [store, serviceUrl, leaseMs] = process.argv.slice(2);
if (!store || !serviceUrl || !leaseMs) {
  process.stderr.write("usage: worker <store> <serviceUrl> <leaseMs>\n");
  process.exit(2);
}
const flotilla = await Flotilla.open({
  store,
  providers: { default: randomProvider },
  worker: false,
  stopGraceMs: 200,
});
setupCrashAgents(flotilla, serviceUrl);
await flotilla.worker({ concurrency: 8, leaseMs: Number(leaseMs), pollMs: 50 });
process.stdout.write("ready\n");
process.on("SIGTERM", () => void flotilla.close().then(() => process.exit(0)));
