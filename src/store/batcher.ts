/**
 * Group commit, for any kind of write: requests submitted while a batch is
 * being made durable wait for the next batch, which `apply` makes durable in
 * one transaction (one flush, one lock per hot row) instead of one each. A
 * batch never waits for more work: it starts on the next turn of the event
 * loop, so a lone request is not delayed.
 */
export class Batcher<Req, Out> {
  private queue: { request: Req; resolve: (out: Out) => void; reject: (err: Error) => void }[] = [];
  private inFlight: Promise<void> | undefined;
  private scheduled = false;
  /** Made once, as `done`: a batch starts (and ends) after nearly every commit of a sequential run. */
  private readonly start = (): void => {
    this.scheduled = false;
    this.flush();
  };
  private readonly done = (): void => {
    this.inFlight = undefined;
    if (this.queue.length > 0) this.schedule();
  };

  constructor(
    /** Applies a batch in order; per request, its outcome or the error that refused it alone. */
    private readonly apply: (batch: Req[]) => Promise<(Out | Error)[]>,
    private readonly maxBatch: number,
  ) {}

  submit(request: Req): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is settled (durable or rejected). */
  async drain(): Promise<void> {
    while (this.inFlight || this.queue.length > 0 || this.scheduled) {
      if (this.inFlight) await this.inFlight;
      else await new Promise<void>((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(this.start);
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = this.run(batch).finally(this.done);
  }

  private async run(batch: typeof this.queue): Promise<void> {
    try {
      const outcomes = await this.apply(batch.map((p) => p.request));
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i] as (typeof batch)[number];
        const out = outcomes[i];
        if (out instanceof Error) p.reject(out);
        else p.resolve(out as Out);
      }
    } catch (err) {
      for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
