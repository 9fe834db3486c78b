import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { CrashAgentOptions } from "../crash/agents.js";

export interface ChildWorkerOptions {
  leaseMs: number;
  concurrency: number;
  agents: CrashAgentOptions;
}

const here = fileURLToPath(import.meta.url);
const script = join(here, "..", `worker${here.endsWith(".ts") ? ".ts" : ".js"}`);

/** A worker in its own process, which the harness may freeze, thaw or kill. */
export class WorkerProcess {
  private constructor(private readonly child: ChildProcess) {}

  /** Starts a worker and resolves once it is claiming runs. */
  static start(
    store: string,
    serviceUrl: string,
    options: ChildWorkerOptions,
  ): Promise<WorkerProcess> {
    const child = spawn(
      process.execPath,
      [...process.execArgv, script, store, serviceUrl, JSON.stringify(options)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) =>
        reject(new Error(`fault worker exited (${code ?? signal}) before it was ready`)),
      );
      child.stdout?.once("data", () => {
        child.removeAllListeners("exit");
        resolve(new WorkerProcess(child));
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Freezes the process (SIGSTOP): a zombie that still thinks it holds its runs. */
  freeze(): void {
    this.child.kill("SIGSTOP");
  }

  thaw(): void {
    this.child.kill("SIGCONT");
  }

  kill(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.alive) return resolve();
      this.child.once("exit", () => resolve());
      this.child.kill("SIGCONT");
      this.child.kill("SIGKILL");
    });
  }
}

/** Waits until `test` holds (polled every 20 ms) or `maxMs` passed; true if it held. */
export async function until(test: () => boolean, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  while (!test()) {
    if (Date.now() >= deadline) return false;
    await delay(20);
  }
  return true;
}
