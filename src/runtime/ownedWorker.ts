import { Worker, type WorkerHost } from "./Worker.js";
import type { WorkerOptions } from "./workerOptions.js";

/**
 * The in-process worker a Flotilla instance owns: started once, with the
 * worker options given to `Flotilla.open` and those given at start over
 * them. Calls while it starts share that start; a failed start (bad options,
 * a store refusing the registration) can be tried again.
 */
export class OwnedWorker {
  private started: Worker | undefined;
  private starting: Promise<Worker> | undefined;

  constructor(
    private readonly host: WorkerHost,
    /** The worker options given to `Flotilla.open`. */
    private readonly opened: WorkerOptions,
  ) {}

  /** The worker once it has started. */
  get current(): Worker | undefined {
    return this.started;
  }

  start(options?: WorkerOptions): Promise<Worker> {
    if (!this.starting) {
      const start = this.startOnce(options);
      this.starting = start;
      start.catch(() => {
        if (this.starting === start) this.starting = undefined;
      });
    }
    return this.starting;
  }

  /** Stops the worker; one still starting is stopped once started, one that failed needs nothing. */
  async stop(): Promise<void> {
    const worker = await this.starting?.catch(() => undefined);
    await worker?.stop();
  }

  private async startOnce(options: WorkerOptions | undefined): Promise<Worker> {
    const given =
      typeof options === "object" && options !== null && !Array.isArray(options)
        ? { ...this.opened, ...options }
        : (options ?? this.opened);
    const w = new Worker(this.host, given);
    await w.start();
    this.started = w;
    return w;
  }
}
