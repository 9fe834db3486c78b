import { FlotillaError } from "../core/errors.js";

export class BulkheadFullError extends FlotillaError {
  constructor(name: string, concurrency: number, queue: number) {
    super(
      "FLOTILLA_BULKHEAD_FULL",
      `bulkhead '${name}' is full: ${concurrency} running and ${queue} queued`,
      {
        name,
        concurrency,
        queue,
      },
    );
  }
}

/**
 * Limits concurrent calls to one tool or tenant, with a bounded FIFO queue;
 * a full queue rejects at once rather than letting waits pile up.
 */
export class Bulkhead {
  private running = 0;
  private readonly waiting: {
    resolve: () => void;
    reject: (e: unknown) => void;
    signal: AbortSignal;
    onAbort: () => void;
  }[] = [];

  constructor(
    readonly name: string,
    readonly concurrency: number,
    readonly queue: number,
  ) {}

  async execute<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queue)
      return Promise.reject(new BulkheadFullError(this.name, this.concurrency, this.queue));
    return new Promise<void>((resolve, reject) => {
      const entry = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        },
      };
      signal.addEventListener("abort", entry.onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (!next) {
      this.running--;
      return;
    }
    next.signal.removeEventListener("abort", next.onAbort);
    next.resolve();
  }
}
