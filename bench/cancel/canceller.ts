/**
 * The other process of the cancel benchmark: `node canceller.js <store>`.
 * It opens the store with no worker, prints "ready", then for each run id
 * read from stdin calls `flotilla.cancel(runId)` (several at once) and
 * prints one JSON line: when it called, when the request was durable, when
 * cancel returned, and the error if it refused.
 */
import { createInterface } from "node:readline";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { openStore } from "../../src/store/open.js";
import { recordCancelRequests } from "./durable.js";

export interface RemoteCancel {
  runId: string;
  calledAt: number;
  durableAt?: number;
  returnedAt: number;
  error?: string;
}

const url = process.argv[2];
if (!url) {
  process.stderr.write("usage: canceller <store>\n");
  process.exit(2);
}
const store = await openStore(url, { poolSize: 8 });
const durable = recordCancelRequests(store);
const flotilla = await Flotilla.open({ store, worker: false });
const pending = new Set<Promise<void>>();

async function cancel(runId: string): Promise<void> {
  const calledAt = Date.now();
  let error: string | undefined;
  try {
    await flotilla.cancel(runId);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const line: RemoteCancel = { runId, calledAt, returnedAt: Date.now() };
  const at = durable.get(runId);
  if (at !== undefined) line.durableAt = at;
  if (error !== undefined) line.error = error;
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

process.stdout.write("ready\n");
for await (const runId of createInterface({ input: process.stdin })) {
  if (runId === "") continue;
  const p = cancel(runId).finally(() => pending.delete(p));
  pending.add(p);
}
await Promise.allSettled(pending);
await flotilla.close();
await store.close();
