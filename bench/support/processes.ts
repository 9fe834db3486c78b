import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/*
 * Processes the crash benchmarks start and SIGKILL: a worker prints a first
 * line once it is working, and a kill resolves once the process is gone.
 */

/** A script beside the module at `moduleUrl`, as the running build names it (.ts or .js). */
export function scriptBeside(moduleUrl: string, name: string): string {
  const here = fileURLToPath(moduleUrl);
  return join(here, "..", `${name}${here.endsWith(".ts") ? ".ts" : ".js"}`);
}

const closed = new WeakMap<ChildProcess, Promise<void>>();

/** Spawns a process that prints a first line once it is working; `onLine` sees every line. */
export function startProcess(
  file: string,
  args: string[],
  onLine: (line: string) => void = () => undefined,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...process.execArgv, file, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  // After "close", not "exit": every line the process printed has been seen.
  closed.set(child, new Promise((resolve) => child.once("close", () => resolve())));
  let buffered = "";
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`${file} exited with ${code} before it was ready`)),
    );
    child.stdout?.setEncoding("utf8");
    let ready = false;
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (!ready) {
          ready = true;
          child.removeAllListeners("exit");
          resolve(child);
        } else onLine(line);
      }
    });
  });
}

export function exited(child: ChildProcess): Promise<void> {
  return closed.get(child) ?? Promise.resolve();
}

/** SIGKILL; resolves once the process is gone and its output read. */
export function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  return exited(child);
}
