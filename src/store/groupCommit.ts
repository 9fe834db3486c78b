import { Batcher } from "./batcher.js";
import type { Commit } from "./types.js";

/**
 * Group commit of journal commits: N concurrent steps share one transaction
 * and one fsync instead of paying for N (see Batcher).
 */
export class GroupCommitter extends Batcher<Commit, void> {
  constructor(
    /** Applies a batch durably; returns, per commit, the error that rejected it. */
    apply: (batch: Commit[]) => Promise<(Error | undefined)[]>,
    maxBatch = 512,
  ) {
    super(apply, maxBatch);
  }
}
