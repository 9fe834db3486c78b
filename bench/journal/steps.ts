import type { Agent } from "../../src/runtime/Agent.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { defineStepAgents, SETTLES } from "./agents.js";
import type { Place } from "./places.js";
import { insertMs, rawInsertsPerSec } from "./raw.js";
import { figure, ratio } from "./stats.js";

export interface SequentialFigures {
  msPerStep: number;
  insertMs: number;
  ratio: number;
  effectMsPerStep: number;
  effectRatio: number;
}

export interface ConcurrentFigures {
  stepsPerSec: number;
  rawInsertsPerSec: number;
  ratio: number;
  effectStepsPerSec: number;
}

/** Raw writers never race for less than this, so a fast runtime still gets a fair baseline. */
const MIN_WINDOW_MS = 1_000;

/**
 * One run of `steps` sequential steps, timed inside the agent, for a read
 * tool and an idempotent one; against one INSERT alone on one connection.
 */
export async function sequential(
  place: Place,
  sizes: { steps: number; warmup: number; inserts: number },
): Promise<SequentialFigures> {
  const f = await Flotilla.open({ store: place.url });
  let readMs: number;
  let effectMs: number;
  try {
    const agents = defineStepAgents(f);
    const once = async (agent: Agent<number, number>, n: number) =>
      (await f.start(agent, n)).result(SETTLES);
    await once(agents.reads, sizes.warmup);
    await once(agents.effects, sizes.warmup);
    readMs = (await once(agents.reads, sizes.steps)) / sizes.steps;
    effectMs = (await once(agents.effects, sizes.steps)) / sizes.steps;
  } finally {
    await f.close();
  }
  // After close: the idle worker's polling must not share the database with the baseline.
  const alone = await insertMs(place, sizes.inserts);
  return {
    msPerStep: figure(readMs),
    insertMs: figure(alone),
    ratio: ratio(readMs, alone),
    effectMsPerStep: figure(effectMs),
    effectRatio: ratio(effectMs, readMs),
  };
}

/**
 * `runs` runs at once (worker concurrency `runs`), each of `steps`
 * sequential steps, from all started to all done; against as many raw
 * writers inserting for as long.
 */
export async function concurrent(
  place: Place,
  sizes: { runs: number; steps: number },
): Promise<ConcurrentFigures> {
  const f = await Flotilla.open({
    store: place.url,
    worker: { concurrency: sizes.runs },
  });
  let readSeconds: number;
  let effectSeconds: number;
  try {
    const agents = defineStepAgents(f);
    const batch = async (agent: Agent<number, number>, runs: number, steps: number) => {
      const t0 = performance.now();
      const handles = await Promise.all(Array.from({ length: runs }, () => f.start(agent, steps)));
      await Promise.all(handles.map((h) => h.result(SETTLES)));
      return (performance.now() - t0) / 1000;
    };
    await batch(agents.reads, Math.min(4, sizes.runs), 5);
    await batch(agents.effects, Math.min(4, sizes.runs), 5);
    readSeconds = await batch(agents.reads, sizes.runs, sizes.steps);
    effectSeconds = await batch(agents.effects, sizes.runs, sizes.steps);
  } finally {
    await f.close();
  }
  const steps = sizes.runs * sizes.steps;
  const stepsPerSec = steps / readSeconds;
  const windowMs = Math.max(MIN_WINDOW_MS, readSeconds * 1000);
  const raw = await rawInsertsPerSec(place, sizes.runs, windowMs);
  return {
    stepsPerSec: figure(stepsPerSec),
    rawInsertsPerSec: figure(raw),
    ratio: ratio(stepsPerSec, raw),
    effectStepsPerSec: figure(steps / effectSeconds),
  };
}
