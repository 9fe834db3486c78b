import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { VectorIndexError } from "./errors.js";
import type { WorkerCommand, WorkerReply } from "./protocol.js";

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

interface Host {
  worker: Worker;
  pending: Map<number, Pending>;
}

const EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./shard-worker${EXTENSION}`, import.meta.url);

/**
 * Compiled, the worker is a plain .js file. Run from source (tests,
 * benchmarks under tsx), Node 20 does not apply the parent's `--import tsx`
 * hooks to worker threads, so the worker first registers tsx itself.
 */
function startWorker(): Worker {
  if (EXTENSION !== ".ts") return new Worker(WORKER_URL);
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { eval: true });
}

/**
 * Worker threads hosting shards, shard `s` on worker `s % threads`. Never
 * more threads than cores: HNSW search is CPU-bound, so extra threads only
 * add contention. A worker is kept referenced only while it has work, so an
 * idle index does not keep the process alive.
 */
export class ShardPool {
  private readonly hosts: Host[];
  private nextReq = 1;
  private closed = false;

  constructor(threads: number) {
    const count = Math.max(1, Math.min(threads, availableParallelism()));
    this.hosts = Array.from({ length: count }, () => this.spawn());
  }

  get threads(): number {
    return this.hosts.length;
  }

  hostOf(shard: number): number {
    return shard % this.hosts.length;
  }

  /** Sends `cmd` to worker `host`; resolves with its reply value. */
  request<T>(host: number, cmd: WorkerCommand, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new VectorIndexError("the sharded index is closed"));
    const h = this.hosts[host]!;
    const reqId = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      h.pending.set(reqId, { resolve: resolve as (v: unknown) => void, reject });
      if (h.pending.size === 1) h.worker.ref();
      h.worker.postMessage({ ...cmd, reqId }, transfer);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.hosts.map((h) => h.worker.terminate()));
  }

  private spawn(): Host {
    const worker = startWorker();
    const host: Host = { worker, pending: new Map() };
    worker.unref();
    const settle = (reqId: number): Pending | undefined => {
      const p = host.pending.get(reqId);
      host.pending.delete(reqId);
      if (host.pending.size === 0) worker.unref();
      return p;
    };
    worker.on("message", (reply: WorkerReply) => {
      const p = settle(reply.reqId);
      if (!p) return;
      if (reply.ok) p.resolve(reply.value);
      else
        p.reject(
          new VectorIndexError(`shard worker failed: ${reply.error.message}`, {
            error: reply.error,
          }),
        );
    });
    const failAll = (err: unknown): void => {
      for (const reqId of [...host.pending.keys()]) settle(reqId)?.reject(err);
    };
    worker.on("error", (err) =>
      failAll(new VectorIndexError(`shard worker crashed: ${err.message}`, {}, { cause: err })),
    );
    worker.on("exit", (code) =>
      failAll(new VectorIndexError(`shard worker exited with code ${code}`, { code })),
    );
    return host;
  }
}
