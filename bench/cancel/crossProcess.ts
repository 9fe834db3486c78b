import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { RemoteCancel } from "./canceller.js";

const here = fileURLToPath(import.meta.url);
const script = join(here, "..", `canceller${here.endsWith(".ts") ? ".ts" : ".js"}`);

/** A second OS process that cancels runs on the same store when asked. */
export class Canceller {
  private readonly waiting = new Map<
    string,
    { resolve: (c: RemoteCancel) => void; reject: (err: Error) => void }
  >();

  private constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      const c = JSON.parse(line) as RemoteCancel;
      this.waiting.get(c.runId)?.resolve(c);
      this.waiting.delete(c.runId);
    });
    // A canceller that dies must fail the cancels it held, not leave them waiting forever.
    child.once("exit", (code, signal) => {
      for (const w of this.waiting.values())
        w.reject(new Error(`the canceller process exited (${signal ?? code}) mid-cancel`));
      this.waiting.clear();
    });
  }

  static start(store: string): Promise<Canceller> {
    const child = spawn(process.execPath, [...process.execArgv, script, store], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`canceller exited with ${code} before ready`)));
      child.stdout.once("data", () => {
        child.removeAllListeners("exit");
        resolve(new Canceller(child));
      });
    });
  }

  /** Asks the other process to cancel `runId`; resolves with what it saw. */
  cancel(runId: string): Promise<RemoteCancel> {
    return new Promise((resolve, reject) => {
      this.waiting.set(runId, { resolve, reject });
      this.child.stdin!.write(`${runId}\n`);
    });
  }

  /** Closes its stdin: it finishes the cancels in hand and exits. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once("exit", () => resolve());
      this.child.stdin!.end();
    });
  }
}
