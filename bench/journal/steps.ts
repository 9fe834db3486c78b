import type { Agent } from "../../src/runtime/Agent.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { defineStepAgents, SETTLES } from "./agents.js";
import type { Place } from "./places.js";
import { insertMs, rawInsertsPerSec } from "./raw.js";
import { figure, median, ratio } from "./stats.js";

export interface SequentialFigures {
  msPerStep: number;
  insertMs: number;
  ratio: number;
  effectMsPerStep: number;
  effectRatio: number;
  /** An idempotent tool with a key of its own, registered in the store as well as journaled. */
  keyedEffectMsPerStep: number;
  keyedEffectRatio: number;
}

export interface ConcurrentFigures {
  stepsPerSec: number;
  rawInsertsPerSec: number;
  ratio: number;
  effectStepsPerSec: number;
}

/**
 * Neither side is timed over less than this: runs are started in batches,
 * one after another, until it has passed, and raw writers race at least as
 * long. A single batch of short runs lasts tens of milliseconds, less than
 * the machine's noise.
 */
const MIN_WINDOW_MS = 1_000;

/**
 * Rounds the sequential measure is split into, alternating with the
 * baseline. With five, one round of the baseline caught in a quiet moment of
 * a shared machine moved the median, and SQLite's ratio spread over
 * 1.39-1.62 between identical runs; with fifteen, over 1.38-1.45.
 */
const ROUNDS = 15;
/** Rounds of the concurrent measures (each a batch of runs, then as many raw writers). */
const CONCURRENT_ROUNDS = 3;

/**
 * Runs of sequential steps, timed inside the agent, for a read tool and an
 * idempotent one (with the default key, and with a key of its own), against
 * one INSERT alone on one connection: in rounds that alternate the four, so
 * both sides see the same moments of a noisy machine; each figure is the
 * median of its rounds.
 */
export async function sequential(
  place: Place,
  sizes: { steps: number; warmup: number; inserts: number },
): Promise<SequentialFigures> {
  const f = await Flotilla.open({ store: place.url });
  const reads: number[] = [];
  const effects: number[] = [];
  const keyed: number[] = [];
  const inserts: number[] = [];
  try {
    const agents = defineStepAgents(f);
    const once = async (agent: Agent<number, number>, n: number) =>
      (await f.start(agent, n)).result(SETTLES);
    await once(agents.reads, sizes.warmup);
    await once(agents.effects, sizes.warmup);
    await once(agents.keyedEffects, sizes.warmup);
    const steps = Math.ceil(sizes.steps / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      reads.push((await once(agents.reads, steps)) / steps);
      effects.push((await once(agents.effects, steps)) / steps);
      keyed.push((await once(agents.keyedEffects, steps)) / steps);
      inserts.push(await insertMs(place, Math.ceil(sizes.inserts / ROUNDS)));
    }
  } finally {
    await f.close();
  }
  const readMs = median(reads);
  const effectMs = median(effects);
  const keyedMs = median(keyed);
  const alone = median(inserts);
  return {
    msPerStep: figure(readMs),
    insertMs: figure(alone),
    ratio: ratio(readMs, alone),
    effectMsPerStep: figure(effectMs),
    effectRatio: ratio(effectMs, readMs),
    keyedEffectMsPerStep: figure(keyedMs),
    keyedEffectRatio: ratio(keyedMs, readMs),
  };
}

/**
 * `runs` runs at once (worker concurrency `runs`), each of `steps`
 * sequential steps, in batches from all started to all done, one batch after
 * another for at least MIN_WINDOW_MS; against as many raw writers inserting
 * for as long. Rounds alternate the runtime and its
 * baseline, so both see the same moments of a noisy machine; each figure is
 * the median of its rounds.
 */
export async function concurrent(
  place: Place,
  sizes: { runs: number; steps: number },
): Promise<ConcurrentFigures> {
  const reads: number[] = [];
  const effects: number[] = [];
  const raws: number[] = [];
  for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
    const { read, effect } = await runsAtOnce(place, sizes);
    reads.push(read.steps / read.seconds);
    effects.push(effect.steps / effect.seconds);
    // After close: K runs' connections and K writers' together would pass the server's limit.
    raws.push(await rawInsertsPerSec(place, sizes.runs, read.seconds * 1000));
  }
  const stepsPerSec = median(reads);
  const raw = median(raws);
  return {
    stepsPerSec: figure(stepsPerSec),
    rawInsertsPerSec: figure(raw),
    ratio: ratio(stepsPerSec, raw),
    effectStepsPerSec: figure(median(effects)),
  };
}

interface Window {
  steps: number;
  seconds: number;
}

/** One round: `runs` runs at once of read steps, then of idempotent steps, after a warm-up. */
async function runsAtOnce(
  place: Place,
  sizes: { runs: number; steps: number },
): Promise<{ read: Window; effect: Window }> {
  const f = await Flotilla.open({
    store: place.url,
    worker: { concurrency: sizes.runs },
  });
  try {
    const agents = defineStepAgents(f);
    const batch = async (agent: Agent<number, number>, runs: number, steps: number) => {
      const t0 = performance.now();
      const handles = await Promise.all(Array.from({ length: runs }, () => f.start(agent, steps)));
      await Promise.all(handles.map((h) => h.result(SETTLES)));
      return (performance.now() - t0) / 1000;
    };
    const window = async (agent: Agent<number, number>): Promise<Window> => {
      let seconds = 0;
      let batches = 0;
      for (; batches === 0 || seconds * 1000 < MIN_WINDOW_MS; batches++)
        seconds += await batch(agent, sizes.runs, sizes.steps);
      return { steps: batches * sizes.runs * sizes.steps, seconds };
    };
    await batch(agents.reads, Math.min(4, sizes.runs), 5);
    await batch(agents.effects, Math.min(4, sizes.runs), 5);
    return { read: await window(agents.reads), effect: await window(agents.effects) };
  } finally {
    await f.close();
  }
}
