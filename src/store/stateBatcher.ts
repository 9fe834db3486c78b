import { Batcher } from "./batcher.js";
import type { StateKey, StateWrite, StateWriteOutcome, StateWriter } from "./stateTypes.js";

/** One shared-state write waiting for its batch. */
export interface StateWriteRequest {
  at: StateKey;
  write: StateWrite;
  by: StateWriter;
}

/**
 * Group commit for shared-state writes: writes submitted while a batch is
 * being made durable wait for the next one, which applies them in order in
 * one transaction. Many runs merging into one hot key then pay for one row
 * lock and one flush per batch instead of one each (the lock is held across
 * the commit's flush, so one at a time would cap a key at one write per
 * flush). A lone write is not delayed (see Batcher).
 */
export class StateWriteBatcher extends Batcher<StateWriteRequest, StateWriteOutcome> {
  constructor(
    /** Applies a batch in order, in one transaction; per write, its outcome or the error that refused it. */
    apply: (batch: StateWriteRequest[]) => Promise<(StateWriteOutcome | Error)[]>,
    maxBatch = 256,
  ) {
    super(async (batch) => {
      const outcomes = await apply(batch);
      return batch.map(
        (_, i) => outcomes[i] ?? new Error("a state write got no outcome from its batch"),
      );
    }, maxBatch);
  }
}
