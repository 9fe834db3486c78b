import { BASELINES } from "./raw.js";
import type { NewPlace, StoreKind } from "./places.js";
import { inFreshPlace } from "./places.js";
import { concurrent, sequential, type ConcurrentFigures, type SequentialFigures } from "./steps.js";
import { zeroStepRuns, type ZeroStepFigures } from "./zeroStep.js";

export type StoreFigures = {
  sequential: SequentialFigures;
  concurrent16: ConcurrentFigures;
  concurrent64: ConcurrentFigures;
} & ZeroStepFigures & {
    /** What the raw side of every ratio does. */
    baseline: string;
  };

export interface StoreSizes {
  sequential: { steps: number; warmup: number; inserts: number };
  /** Steps of each of the K concurrent runs. */
  concurrentSteps: number;
  /** Runs timed in each process, after `warmup` runs that are not. */
  zeroStep: { sameProcess: number; otherProcess: number; warmup: number; inserts: number };
}

/** The measures of one store taken, each in a fresh store of its own. */
export const STORE_MEASURES = 4;

/** Every step measure on one store; `onMeasure` is told as each begins. */
export async function storeFigures(
  kind: StoreKind,
  newPlace: NewPlace,
  sizes: StoreSizes,
  onMeasure: (label: string) => void,
): Promise<StoreFigures> {
  onMeasure(`${kind} sequential`);
  const seq = await inFreshPlace(newPlace, "sequential", (p) => sequential(p, sizes.sequential));
  const atOnce = async (runs: number) => {
    onMeasure(`${kind} concurrent ${runs}`);
    return inFreshPlace(newPlace, `concurrent${runs}`, (p) =>
      concurrent(p, { runs, steps: sizes.concurrentSteps }),
    );
  };
  const concurrent16 = await atOnce(16);
  const concurrent64 = await atOnce(64);
  onMeasure(`${kind} zero-step runs`);
  const zero = await inFreshPlace(newPlace, "zero-step", (p) => zeroStepRuns(p, sizes.zeroStep));
  return { sequential: seq, concurrent16, concurrent64, ...zero, baseline: BASELINES[kind] };
}
