import { LeaseLostError } from "../core/errors.js";
import type { ClaimedRun, CreateClaim, CreatedRun, JournalEvent } from "../store/types.js";
import { Execution, type ExecutionHost, type ExecutionOutcome } from "./Execution.js";
import {
  describeOtherVersionRuns,
  otherVersionRuns,
  versionsOf,
  type OtherVersionRuns,
} from "./agentVersions.js";
import { parseOptions } from "../core/validate.js";
import { workerOptionsSchema, type WorkerOptions, type WorkerSettings } from "./workerOptions.js";

/** How soon a worker looks again for a timer that was due but not claimed. */
const DUE_RECHECK_MS = 25;

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
  readonly options: WorkerSettings;
  private readonly executions = new Map<string, Execution>();
  /** Slots promised to runs this process is creating (see `reserve`). */
  private reserved = 0;
  private running = false;
  /** The start in progress, if any: concurrent calls share it, and a stop waits for it. */
  private starting: Promise<void> | undefined;
  /** The stop in progress, if any: concurrent calls share it, and a start waits for it. */
  private stopping: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Set by every wake-up, so one that lands while the loop is busy is not lost. */
  private nudged = false;
  /**
   * The earliest timer due as last read from the store. Read again only after
   * a wake-up announced new runnable work (a run suspended with a timer
   * announces itself) or once it is due, not on every pass of the loop.
   */
  private timers: { stale: boolean; next: number | null } = { stale: true, next: null };
  /**
   * Whether runs may be claimable that the last claim did not see: set by
   * the store's announcements, by a claim that filled every free slot, and
   * when the idle wait ends (a timer due, or the poll that finds leases
   * expired without announcement). A slot freed by a run that ended is no
   * reason to look: with nothing announced since a claim that found less
   * than it asked for, that claim would find nothing and only cost a
   * statement.
   */
  private look = true;
  private readonly unsubscribe: (() => void)[] = [];
  /**
   * Unfinished runs of this worker's agents, as it started, at versions it
   * does not resume (also warned through the host): they wait for a worker
   * at their version.
   */
  otherVersionsAtStart: Promise<OtherVersionRuns[]> = Promise.resolve([]);
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

  /** Whether this worker executes the run now. */
  holds(runId: string): boolean {
    return this.executions.has(runId);
  }

  /** Slots neither executing a run nor promised to one being created here. */
  get free(): number {
    return this.options.concurrency - this.executions.size - this.reserved;
  }

  /**
   * Takes a slot for a run this process is about to create, when this worker
   * runs its agent and has a slot free: the store then creates the run
   * already leased to this worker, and it starts here at once, with no claim
   * and no journal read. Every slot is either adopted or released.
   */
  reserve(agent: string): LocalSlot | undefined {
    // The agents this worker claims (agentNames) are those its host defines.
    const defined = this.host.agentByName(agent);
    if (!this.running || this.free <= 0 || !defined) return undefined;
    this.reserved++;
    let open = true;
    const sentAt = Date.now();
    const close = () => {
      if (open) this.reserved--;
      open = false;
    };
    return {
      claim: {
        workerId: this.host.workerId,
        leaseMs: this.options.leaseMs,
        agentVersion: defined.version,
      },
      adopt: (claimed) => {
        close();
        if (this.running)
          this.launch(
            new Execution(this.host, claimed.run, this.provableUntil(sentAt), claimed.journal),
          );
        else
          void this.host.store
            .releaseLeases([{ runId: claimed.run.id, leaseToken: claimed.run.leaseToken }])
            .catch((err: unknown) => this.host.warn("releasing a run created while stopping", err));
      },
      release: close,
    };
  }

  /**
   * Registers the worker and starts its loop and heartbeat. Calls while it
   * starts share that start; once running, it returns at once. A start
   * during a stop begins once the stop is done.
   */
  start(): Promise<void> {
    if (this.running && !this.stopping) return Promise.resolve();
    const stopping = this.stopping;
    this.starting ??= (async () => {
      await stopping;
      await this.begin();
    })().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async begin(): Promise<void> {
    await this.host.store.registerWorker(this.host.workerId);
    await this.announce();
    this.otherVersionsAtStart = this.reportOtherVersions();
    this.running = true;
    this.unsubscribe.push(
      this.host.store.onRunnable(() => {
        this.timers.stale = true;
        this.look = true;
        this.nudge();
      }),
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
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= this.end(graceMs).finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  private async end(graceMs: number): Promise<void> {
    // A stop while the worker starts stops it once started: it never runs on after a stop.
    await this.starting?.catch(() => undefined);
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

  /** Tells the store which agents, at which versions, this worker runs (live for one lease). */
  private announce(): Promise<void> {
    const { workerId, store } = this.host;
    return store.announceWorker(workerId, versionsOf(this.host), this.options.leaseMs);
  }

  private async reportOtherVersions(): Promise<OtherVersionRuns[]> {
    try {
      const waiting = await otherVersionRuns(this.host.store, this.host);
      if (waiting.length > 0)
        this.host.warn(
          "runs wait for other versions of this worker's agents",
          describeOtherVersionRuns(waiting),
        );
      return waiting;
    } catch (err) {
      this.host.warn("counting runs at other agent versions failed", err);
      return [];
    }
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
      const free = this.free;
      let short = true;
      if (free > 0 && this.look) {
        // Cleared before the claim: an announcement while it is in flight sets it again.
        this.look = false;
        try {
          const claimedAt = Date.now();
          const runs = await this.host.store.claimRuns({
            workerId: this.host.workerId,
            agents: this.host.agentNames(),
            versions: versionsOf(this.host),
            limit: free,
            leaseMs: this.options.leaseMs,
            // Each run comes journaled as resumed, with its journal: it starts with no read or write.
            withJournals: true,
          });
          short = runs.length < free;
          if (!short) this.look = true;
          for (const run of runs)
            this.launch(
              new Execution(this.host, run, this.provableUntil(claimedAt), journalOf(run)),
            );
        } catch (err) {
          this.look = true;
          this.host.warn("claiming runs failed; retrying", err);
        }
      }
      // free < 0 happens: runs created here (reserve) may take slots while a claim is in flight.
      // Without this wait the loop would spin without ever yielding, and no run could finish.
      if (this.running && (free <= 0 || short)) await this.idle();
    }
  }

  private launch(execution: Execution): void {
    this.executions.set(execution.runId, execution);
    void execution.execute().then((outcome) => {
      this.outcomes[outcome]++;
      this.executions.delete(execution.runId);
      this.reportEnded(execution, outcome);
      this.nudge();
    });
  }

  private reportEnded(execution: Execution, outcome: ExecutionOutcome): void {
    const { runId } = execution;
    const { agent } = execution.run;
    const journal = () => this.host.store.readJournal(runId);
    try {
      this.options.onEnded?.({ runId, agent, outcome, journal });
    } catch (err) {
      this.host.warn("the worker's onEnded callback threw", err);
    }
  }

  /** Waits for a wake-up, a free slot, the next due timer, or the poll interval. */
  private async idle(): Promise<void> {
    let waitMs = this.options.pollMs;
    const due = this.timers.next !== null && this.timers.next <= Date.now();
    if (this.timers.stale || due) {
      this.timers.stale = false;
      try {
        this.timers.next = await this.host.store.nextWakeAt();
      } catch (err) {
        // Unknown until read again: wait the poll interval, not for a timer that may be long gone.
        this.timers = { stale: true, next: null };
        this.host.warn("reading timers failed", err);
      }
    }
    const next = this.timers.next;
    // A timer already due that the last claim did not take may belong to runs this worker cannot
    // run (another agent): look again shortly, never in a busy loop.
    if (next !== null) {
      const left = next - Date.now();
      waitMs = Math.min(waitMs, left >= 0 ? left + 1 : DUE_RECHECK_MS);
    }
    if (!this.running || this.nudged) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.look = true;
        this.nudge();
      }, waitMs);
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
    } catch (err) {
      // The store is out of reach: presence and shared state would fail the same way.
      this.host.warn("renewing leases failed", err);
      return;
    } finally {
      // Self-fencing: a worker that cannot renew (partitioned, paused, store down) gives its runs up.
      for (const e of this.executions.values()) e.fenceIfExpired();
    }
    await this.share();
  }

  /**
   * After a renewal: the worker's presence and the resilience state it
   * shares, at once and each on its own, so one failing neither delays nor
   * skips the other, and each failure is told by name.
   */
  private async share(): Promise<void> {
    const [announced, shared] = await Promise.allSettled([this.announce(), this.host.heartbeat()]);
    if (announced.status === "rejected")
      this.host.warn("announcing this worker's agents failed", announced.reason);
    if (shared.status === "rejected")
      this.host.warn("sharing retry budgets and breaker states failed", shared.reason);
  }
}

/** A worker slot held for a run being created in this process. */
export interface LocalSlot {
  claim: CreateClaim;
  /** Starts the run the store created leased to this worker. */
  adopt(claimed: NonNullable<CreatedRun["claimed"]>): void;
  /** Gives the slot back (the run was not created, or not leased here). */
  release(): void;
}

/** A claimed run's journal, which a claim `withJournals` returns with each run. */
function journalOf(run: ClaimedRun): JournalEvent[] {
  if (!run.journal) throw new Error(`the store claimed run ${run.id} without its journal`);
  return run.journal;
}
