import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Rng } from "../../src/core/rng.js";

const here = fileURLToPath(import.meta.url);
const ext = here.endsWith(".ts") ? ".ts" : ".js";
const closed = new WeakMap<ChildProcess, Promise<void>>();

/** A script beside this file, as the running build names it. */
export function script(name: string): string {
  return join(here, "..", `${name}${ext}`);
}

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

function exited(child: ChildProcess): Promise<void> {
  return closed.get(child) ?? Promise.resolve();
}

/** SIGKILL; resolves once the process is gone and its output read. */
export function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  return exited(child);
}

export interface CrashLoopOptions {
  /** Starts the next process; resolves once it is working. */
  start: () => Promise<ChildProcess>;
  /** True once the column's work is all settled. */
  settled: () => boolean;
  rng: Rng;
  /** Each process is SIGKILLed this long after it is ready (uniform), unless it ends first. */
  lifetimeMs: { min: number; max: number };
  /** After this many kills the last process is left to finish (so the column ends). */
  maxKills: number;
}

/**
 * One process at a time (a SQLite store has one worker process), each
 * SIGKILLed at a random moment of its work and replaced, until the work is
 * settled. Returns the number of kills: only processes killed while work
 * was unsettled count.
 */
export async function crashLoop(options: CrashLoopOptions): Promise<number> {
  let kills = 0;
  while (!options.settled()) {
    const child = await options.start();
    const gone = exited(child);
    const { min, max } = options.lifetimeMs;
    const lifetime = min + Math.floor(options.rng.next() * (max - min + 1));
    const deadline = Date.now() + lifetime;
    // Polled, not awaited on one timer: the column may settle long before the kill is due.
    let ended = false;
    void gone.then(() => (ended = true));
    while (!ended && !options.settled() && (kills >= options.maxKills || Date.now() < deadline))
      await new Promise((r) => setTimeout(r, 10));
    const crash = !ended && !options.settled();
    await kill(child);
    if (crash) kills++;
  }
  return kills;
}
