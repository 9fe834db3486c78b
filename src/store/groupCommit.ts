import type { Commit } from "./types.js";

interface Pending {
  commit: Commit;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Group commit: commits submitted while a batch is being made durable wait
 * for the next batch, so N concurrent steps share one transaction and one
 * fsync instead of paying for N. A batch never waits for more work: it starts
 * on the next turn of the event loop, so a lone commit is not delayed.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private inFlight: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    /** Applies a batch durably; returns, per commit, the error that rejected it. */
    private readonly apply: (batch: Commit[]) => Promise<(Error | undefined)[]>,
    private readonly maxBatch = 512,
  ) {}

  submit(commit: Commit): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is durable (or rejected). */
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
      const outcomes = await this.apply(batch.map((p) => p.commit));
      batch.forEach((p, i) => {
        const err = outcomes[i];
        if (err) p.reject(err);
        else p.resolve();
      });
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    }
  }
}
