/**
 * A worker in its own process for the zero-step measure:
 * `node worker.js <store>`. It defines the bench's agents, starts its worker,
 * prints "ready", and closes on SIGTERM or when its parent goes (stdin ends).
 */
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { defineStepAgents } from "./agents.js";

const [store] = process.argv.slice(2);
if (!store) {
  process.stderr.write("usage: worker <store>\n");
  process.exit(2);
}
const flotilla = await Flotilla.open({ store, worker: false, stopGraceMs: 200 });
defineStepAgents(flotilla);
await flotilla.worker();
let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  void flotilla.close().finally(() => process.exit(0));
};
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.resume();
process.stdout.write("ready\n");
