import { Flotilla } from "../../src/runtime/Flotilla.js";
import { defineStepAgents, SETTLES } from "./agents.js";
import type { Place } from "./places.js";
import { insertMs } from "./raw.js";
import { figure, median } from "./stats.js";
import { WorkerProcess } from "./workerProcess.js";

export interface ZeroStepFigures {
  zeroStepRunMs: { sameProcess: number; otherProcess: number };
  insertMs: number;
}

/** Median ms from `start()` to `result()` of a run that returns at once, over `samples` after `warmup` more. */
async function startToResult(f: Flotilla, samples: number, warmup: number): Promise<number> {
  const { zeroStep } = defineStepAgents(f);
  const once = async () => {
    const t0 = performance.now();
    await (await f.start(zeroStep, null)).result(SETTLES);
    return performance.now() - t0;
  };
  for (let i = 0; i < warmup; i++) await once();
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) ms.push(await once());
  return median(ms);
}

/**
 * The cost of a run itself: with the worker in this process, and with the
 * worker in another process while this one opens the store as a client only
 * (`worker: false`, so on SQLite it registers no worker); against one INSERT alone.
 */
export async function zeroStepRuns(
  place: Place,
  sizes: { sameProcess: number; otherProcess: number; warmup: number; inserts: number },
): Promise<ZeroStepFigures> {
  const here = await Flotilla.open({ store: place.url });
  let sameProcess: number;
  try {
    sameProcess = await startToResult(here, sizes.sameProcess, sizes.warmup);
  } finally {
    await here.close();
  }
  // Started after `here` closed: on SQLite one worker process per file may be registered.
  const worker = await WorkerProcess.start(place.url);
  let otherProcess: number;
  try {
    const client = await Flotilla.open({ store: place.url, worker: false });
    try {
      otherProcess = await startToResult(client, sizes.otherProcess, sizes.warmup);
    } finally {
      await client.close();
    }
  } finally {
    await worker.stop();
  }
  const alone = await insertMs(place, sizes.inserts);
  return {
    zeroStepRunMs: { sameProcess: figure(sameProcess), otherProcess: figure(otherProcess) },
    insertMs: figure(alone),
  };
}
