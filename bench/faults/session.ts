import { setTimeout as delay } from "node:timers/promises";
import { rngFor, type Rng } from "../../src/core/rng.js";
import { Flotilla, type FlotillaOptions } from "../../src/runtime/Flotilla.js";
import type { WorkerOptions } from "../../src/runtime/workerOptions.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/types.js";
import { randomProvider, type CrashAgentOptions } from "../crash/agents.js";
import { RecordingToolService, type ToolServiceOptions } from "../crash/toolService.js";
import {
  countScenario,
  isSettled,
  parkedBelow,
  type FaultCounts,
  type StartedRun,
} from "./count.js";
import { defineFleet, type RunPlan } from "./workload.js";

/** One scenario on one store, as the orchestrator hands it out. */
export interface ScenarioSetup {
  fault: string;
  store: "sqlite" | "postgres";
  /** The store the scenario may fill (fresh); a scenario may bring its own instead. */
  storeUrl: string;
  seed: number;
  quick: boolean;
}

export interface ScenarioResult extends FaultCounts {
  store: string;
  fault: string;
  skipped?: string;
  /** The harness itself failed (a worker would not start, …): the counts are not measured. */
  error?: string;
  anomalies?: string[];
}

/** Tools declare a deadline, so recovery after a lost answer waits seconds, not the default minute. */
export const TOOL_TIMEOUT_MS = 4_000;

/**
 * One scenario's world: the recording service, the store, a clean client
 * that starts runs and counts, and the runners that execute them.
 */
export class Session {
  readonly started: StartedRun[] = [];
  readonly anomalies: string[] = [];
  private readonly runners: Flotilla[] = [];

  private constructor(
    readonly setup: ScenarioSetup,
    readonly storeUrl: string,
    readonly service: RecordingToolService,
    readonly serviceUrl: string,
    readonly inner: Store,
    readonly client: Flotilla,
    readonly agents: CrashAgentOptions,
  ) {}

  static async open(
    setup: ScenarioSetup,
    options: { service?: ToolServiceOptions; agents?: CrashAgentOptions; storeUrl?: string } = {},
  ): Promise<Session> {
    const agents = { timeoutMs: TOOL_TIMEOUT_MS, ...options.agents };
    const service = new RecordingToolService(options.service);
    const serviceUrl = await service.start();
    const storeUrl = options.storeUrl ?? setup.storeUrl;
    try {
      const inner = await openStore(storeUrl);
      const client = await Flotilla.open({
        store: inner,
        providers: { default: randomProvider },
        worker: false,
      });
      defineFleet(client, serviceUrl, agents);
      return new Session(setup, storeUrl, service, serviceUrl, inner, client, agents);
    } catch (err) {
      await service.close();
      throw err;
    }
  }

  /** A Flotilla running the fleet in this process over `store` (this session's, or a faulty wrapper of it). */
  async runner(
    store: Store,
    worker: WorkerOptions,
    options: Omit<FlotillaOptions, "store"> = {},
  ): Promise<Flotilla> {
    const f = await Flotilla.open({
      providers: { default: randomProvider },
      stopGraceMs: 500,
      ...options,
      store,
      worker: false,
    });
    this.runners.push(f);
    defineFleet(f, this.serviceUrl, this.agents);
    await f.worker(worker);
    return f;
  }

  /** Starts the planned runs; a start the store refused is tried again under the same key. */
  async start(plans: readonly RunPlan[]): Promise<void> {
    for (const plan of plans) {
      const agent = this.client.agentByName(plan.agent);
      if (!agent) throw new Error(`no agent ${plan.agent}`);
      for (let tries = 1; ; tries++) {
        try {
          const handle = await this.client.start(agent, plan.input, {
            idempotencyKey: `plan-${this.started.length}`,
          });
          this.started.push({ id: handle.id, expect: plan.expect });
          break;
        } catch (err) {
          if (tries >= 20) throw err;
          await delay(100 * tries);
        }
      }
    }
  }

  /** Started runs not yet in a final state (parked counts as final: it waits for a human). */
  async unsettled(): Promise<number> {
    return (await this.unsettledRuns()).count;
  }

  /** How many runs are unsettled, and whether one of them waits on a timer still ahead. */
  private async unsettledRuns(): Promise<{ count: number; timerAhead: boolean }> {
    let count = 0;
    let timerAhead = false;
    for (const { id } of this.started) {
      try {
        const run = await this.inner.getRun(id);
        if (isSettled(run)) continue;
        // A parent waiting on a parked child may still have its own timer ahead (a reconcile).
        const timer = run?.status === "waiting" && run.wakeAt !== null && run.wakeAt > Date.now();
        if (!timer && (await parkedBelow(this.inner, run))) continue;
        count++;
        timerAhead ||= timer;
      } catch {
        count++;
      }
    }
    return { count, timerAhead };
  }

  /**
   * Waits until every started run settled, until nothing moved for
   * `STALL_MS` (no run settled, no effect performed or refused, no run
   * waiting on a timer still ahead: what is left is lost), or `maxMs` passed. A slow fleet is given its time; a stuck one is not.
   */
  async settle(maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    let last = "";
    let movedAt = Date.now();
    for (;;) {
      const { count: left, timerAhead } = await this.unsettledRuns();
      if (left === 0 || Date.now() >= deadline) return;
      const { performed, dropped, refusedLate } = this.service;
      const now = `${left}/${performed.length}/${dropped}/${refusedLate}`;
      // A run waiting on a timer (e.g. for a call's deadline to pass before reconciling) is not stuck.
      if (now !== last || timerAhead) [last, movedAt] = [now, Date.now()];
      else if (Date.now() - movedAt >= STALL_MS) return;
      await delay(200);
    }
  }

  /** Counts what happened, once the runs settled; anomalies explain any nonzero target. */
  async result(injected: number): Promise<ScenarioResult> {
    const counts = await countScenario(
      this.inner,
      this.started,
      this.service,
      injected,
      this.anomalies,
    );
    const { fault, store } = this.setup;
    return {
      store,
      fault,
      ...counts,
      ...(this.anomalies.length ? { anomalies: this.anomalies } : {}),
    };
  }

  async close(): Promise<void> {
    for (const r of this.runners.splice(0)) await r.close().catch(() => undefined);
    await this.client.close();
    await this.inner.close().catch(() => undefined);
    await this.service.close();
  }
}

/** The longest a scenario's runs may take to settle once its fault stopped. */
export const SETTLE_MS = 300_000;

/** Runs that made no progress for this long are counted lost (longer than the 30 s cap of an interrupted run's backoff). */
const STALL_MS = 45_000;

/** Opens a session, runs `body` in it, and closes it whatever happens. */
export async function withSession(
  setup: ScenarioSetup,
  open: Parameters<typeof Session.open>[1],
  body: (session: Session) => Promise<ScenarioResult>,
): Promise<ScenarioResult> {
  const session = await Session.open(setup, open);
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

/** The scenario's own generator for one kind of decision. */
export const rngOf = (setup: ScenarioSetup, what: string): Rng =>
  rngFor(setup.seed, setup.fault, setup.store, what);
