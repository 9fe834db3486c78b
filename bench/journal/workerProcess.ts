import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(import.meta.url);
const script = join(here, "..", `worker${here.endsWith(".ts") ? ".ts" : ".js"}`);
const READY_WITHIN_MS = 60_000;

/** The bench's worker in a child process on `store`; `stop()` ends it. */
export class WorkerProcess {
  private constructor(private readonly child: ChildProcess) {}

  /** Resolves once the child's worker is claiming runs; kills it if it never gets there. */
  static start(store: string): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [...process.execArgv, script, store], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new Error(`journal bench worker not ready after ${READY_WITHIN_MS} ms`)),
        READY_WITHIN_MS,
      );
      child.once("error", fail);
      child.once("exit", (code, signal) =>
        fail(new Error(`journal bench worker exited (${code ?? signal}) before it was ready`)),
      );
      let out = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (!out.includes("ready\n")) return;
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.removeAllListeners("error");
        child.stdout?.removeAllListeners("data");
        child.stdout?.resume();
        resolve(new WorkerProcess(child));
      });
    });
  }

  /** Asks the worker to close (SIGTERM), and kills it if it has not exited within `graceMs`. */
  stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }
}
