import type { StateKey, StateWrite, StateWriteOutcome, StateWriter } from "./stateTypes.js";

/** One shared-state write waiting for its batch. */
export interface StateWriteRequest {
  at: StateKey;
  write: StateWrite;
  by: StateWriter;
}

interface Pending {
  request: StateWriteRequest;
  resolve: (outcome: StateWriteOutcome) => void;
  reject: (err: Error) => void;
}

/**
 * Group commit for shared-state writes: writes submitted while a batch is
 * being made durable wait for the next one, which applies them in order in
 * one transaction. Many runs merging into one hot key then pay for one row
 * lock and one flush per batch instead of one each (the lock is held across
 * the commit's flush, so one at a time would cap a key at one write per
 * flush). A lone write is not delayed: a batch starts on the next turn of
 * the event loop.
 */
export class StateWriteBatcher {
  private queue: Pending[] = [];
  private inFlight: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    /** Applies a batch in order, in one transaction; per write, its outcome or the error that refused it. */
    private readonly apply: (batch: StateWriteRequest[]) => Promise<(StateWriteOutcome | Error)[]>,
    private readonly maxBatch = 256,
  ) {}

  submit(request: StateWriteRequest): Promise<StateWriteOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every write submitted so far is settled. */
  async drain(): Promise<void> {
    while (this.inFlight || this.queue.length > 0 || this.scheduled) {
      if (this.inFlight) await this.inFlight;
      else await new Promise<void>((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = this.run(batch).finally(() => {
      this.inFlight = undefined;
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async run(batch: Pending[]): Promise<void> {
    try {
      const outcomes = await this.apply(batch.map((p) => p.request));
      batch.forEach((p, i) => {
        const out = outcomes[i];
        if (out === undefined) p.reject(new Error("a state write got no outcome from its batch"));
        else if (out instanceof Error) p.reject(out);
        else p.resolve(out);
      });
    } catch (err) {
      for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
