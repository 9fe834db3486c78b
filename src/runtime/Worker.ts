import { z } from "zod";
import { LeaseLostError } from "../core/errors.js";
import { Execution, type ExecutionHost, type ExecutionOutcome } from "./Execution.js";
import { parseOptions } from "../core/validate.js";

export const workerOptionsSchema = z.object({
  /** Runs executed at once. Default 16. */
  concurrency: z.number().int().min(1).max(10_000).default(16),
  /** How long a claim lasts without a heartbeat. Default 30 s. */
  leaseMs: z.number().int().min(50).default(30_000),
  /** Longest idle wait between looks for work when no wake-up arrives. Default 1 s. */
  pollMs: z.number().int().min(5).default(1_000),
});

export type WorkerOptions = z.input<typeof workerOptionsSchema>;

export interface WorkerHost extends ExecutionHost {
  agentNames(): string[];
  /** Called on every lease heartbeat: share state other workers need. */
  heartbeat(): Promise<void>;
  /** Reports errors the worker survived (store briefly unreachable, …). */
  warn(message: string, err: unknown): void;
}

/**
 * Claims runnable runs and executes them. Leases are renewed by a heartbeat;
 * a run whose lease is lost is abandoned at once (another worker owns it).
 */
export class Worker {
  readonly options: z.output<typeof workerOptionsSchema>;
  private readonly executions = new Map<string, Execution>();
  private running = false;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Set by every wake-up, so one that lands while the loop is busy is not lost. */
  private nudged = false;
  private readonly unsubscribe: (() => void)[] = [];
  /** Counts of how executions ended, for operators and benchmarks. */
  readonly outcomes: Record<ExecutionOutcome, number> = {
    completed: 0,
    failed: 0,
    parked: 0,
    "dead-lettered": 0,
    cancelled: 0,
    suspended: 0,
    "lease-lost": 0,
    interrupted: 0,
  };

  constructor(
    private readonly host: WorkerHost,
    options: WorkerOptions = {},
  ) {
    this.options = parseOptions(workerOptionsSchema, options, "worker options");
  }

  get active(): number {
    return this.executions.size;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.host.store.registerWorker(this.host.workerId);
    this.running = true;
    this.unsubscribe.push(
      this.host.store.onRunnable(() => this.nudge()),
      this.host.store.onCancel((runId) => this.executions.get(runId)?.cancel()),
    );
    this.heartbeat = setInterval(
      () => void this.renew(),
      Math.max(20, Math.floor(this.options.leaseMs / 3)),
    );
    this.heartbeat.unref();
    this.loop = this.run();
  }

  /**
   * Stops claiming; waits up to `graceMs` for runs in progress, then stops
   * them and releases their leases, so another worker resumes them at once
   * instead of after the lease (a deploy does not stall its runs).
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.nudge();
    await this.loop;
    const deadline = Date.now() + graceMs;
    while (this.executions.size > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    const abandoned = [...this.executions.values()];
    for (const e of abandoned) e.stop("lease-lost", new LeaseLostError(e.runId));
    clearInterval(this.heartbeat);
    if (abandoned.length > 0) {
      await this.host.store
        .releaseLeases(abandoned.map((e) => ({ runId: e.runId, leaseToken: e.run.leaseToken })))
        .catch((err: unknown) => this.host.warn("releasing leases on stop failed", err));
    }
    for (const off of this.unsubscribe.splice(0)) off();
    await this.host.store.unregisterWorker(this.host.workerId).catch(() => undefined);
  }

  private nudge(): void {
    this.nudged = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.nudged = false;
      const free = this.options.concurrency - this.executions.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const claimedAt = Date.now();
          const runs = await this.host.store.claimRuns({
            workerId: this.host.workerId,
            agents: this.host.agentNames(),
            limit: free,
            leaseMs: this.options.leaseMs,
          });
          claimed = runs.length;
          for (const run of runs)
            this.launch(new Execution(this.host, run, this.provableUntil(claimedAt)));
        } catch (err) {
          this.host.warn("claiming runs failed; retrying", err);
        }
      }
      if (this.running && (free === 0 || claimed < free)) await this.idle();
    }
  }

  private launch(execution: Execution): void {
    this.executions.set(execution.runId, execution);
    void execution.execute().then((outcome) => {
      this.outcomes[outcome]++;
      this.executions.delete(execution.runId);
      this.nudge();
    });
  }

  /** Waits for a wake-up, a free slot, the next due timer, or the poll interval. */
  private async idle(): Promise<void> {
    let waitMs = this.options.pollMs;
    try {
      const next = await this.host.store.nextWakeAt();
      if (next !== null) waitMs = Math.max(0, Math.min(waitMs, next - Date.now() + 1));
    } catch (err) {
      this.host.warn("reading timers failed", err);
    }
    if (!this.running || this.nudged) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.nudge(), waitMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * How long a lease taken or renewed by a request sent at `sentAt` is
   * provably held: the store counts from when it received the request, so
   * counting from when it was sent is safe; the margin covers clock drift and
   * the time to abort what is in flight.
   */
  private provableUntil(sentAt: number): number {
    const leaseMs = this.options.leaseMs;
    return sentAt + leaseMs - Math.max(10, Math.floor(leaseMs / 5));
  }

  private async renew(): Promise<void> {
    const held = [...this.executions.values()];
    const leases = held.map((e) => ({ runId: e.runId, leaseToken: e.run.leaseToken }));
    const sentAt = Date.now();
    try {
      const { lost, cancelRequested } = await this.host.store.renewLeases(
        this.host.workerId,
        leases,
        this.options.leaseMs,
      );
      const lostIds = new Set(lost);
      for (const e of held) {
        if (lostIds.has(e.runId)) e.stop("lease-lost", new LeaseLostError(e.runId));
        else e.confirmLease(this.provableUntil(sentAt));
      }
      for (const id of cancelRequested) this.executions.get(id)?.cancel();
      await this.host.heartbeat();
    } catch (err) {
      this.host.warn("renewing leases failed", err);
    } finally {
      // Self-fencing: a worker that cannot renew (partitioned, paused, store down) gives its runs up.
      for (const e of this.executions.values()) e.fenceIfExpired();
    }
  }
}
