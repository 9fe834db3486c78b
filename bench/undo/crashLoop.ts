import type { ChildProcess } from "node:child_process";
import type { Rng } from "../../src/core/rng.js";
import { exited, kill, scriptBeside } from "../support/processes.js";

export { kill, startProcess } from "../support/processes.js";

/** A script beside this file, as the running build names it. */
export function script(name: string): string {
  return scriptBeside(import.meta.url, name);
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
