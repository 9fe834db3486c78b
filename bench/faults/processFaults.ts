import { setTimeout as delay } from "node:timers/promises";
import type { CrashAgentOptions } from "../crash/agents.js";
import { until, WorkerProcess, type ChildWorkerOptions } from "./processes.js";
import {
  rngOf,
  withSession,
  SETTLE_MS,
  TOOL_TIMEOUT_MS,
  type ScenarioResult,
  type ScenarioSetup,
  type Session,
} from "./session.js";
import { ticketPlans } from "./workload.js";

const LEASE_MS = 1_500;

function childOptions(serviceDelayMs: { min: number; max: number }): ChildWorkerOptions {
  const agents: CrashAgentOptions = { timeoutMs: TOOL_TIMEOUT_MS, serviceDelayMs };
  return { leaseMs: LEASE_MS, concurrency: 8, agents };
}

/** Runs `body` with worker processes it may start; every one of them is killed afterwards. */
async function withWorkers(
  setup: ScenarioSetup,
  options: ChildWorkerOptions,
  runs: number,
  body: (session: Session, spawn: () => Promise<WorkerProcess>) => Promise<number>,
): Promise<ScenarioResult> {
  return withSession(setup, { agents: options.agents }, async (session) => {
    await session.start(ticketPlans(rngOf(setup, "plans"), runs));
    const workers: WorkerProcess[] = [];
    const spawn = async () => {
      const w = await WorkerProcess.start(session.storeUrl, session.serviceUrl, options);
      workers.push(w);
      return w;
    };
    try {
      const injected = await body(session, spawn);
      await session.settle(SETTLE_MS);
      return await session.result(injected);
    } finally {
      for (const w of workers) await w.kill();
    }
  });
}

/** How long a successor may wait for a frozen SQLite owner (its heartbeat goes stale after 30 s). */
const SUCCESSOR_WAIT_MS = 45_000;

/**
 * A worker is frozen (SIGSTOP) with calls in flight for longer than its
 * lease; another takes its runs over; then it is thawed and must not act on
 * what it no longer owns. On SQLite the successor can only register once the
 * frozen owner's heartbeat is stale (30 s).
 */
export function zombieWorker(setup: ScenarioSetup): Promise<ScenarioResult> {
  const sqlite = setup.store === "sqlite";
  const options = childOptions({ min: 150, max: 600 });
  const runs = setup.quick ? 24 : 80;
  return withWorkers(setup, options, runs, async (session, spawn) => {
    let owner = await spawn();
    const peer = sqlite ? undefined : await spawn();
    const stops = setup.quick ? 1 : sqlite ? 2 : 4;
    let injected = 0;
    for (let i = 0; i < stops; i++) {
      const victim = peer && i % 2 === 1 ? peer : owner;
      if (!(await until(() => session.service.pending(victim.pid) > 0, 10_000)))
        session.anomalies.push(`stop ${i + 1}: the worker had no call in flight when frozen`);
      victim.freeze();
      injected++;
      if (sqlite) {
        // Frozen inside a transaction, it holds SQLite's write lock and no successor can register:
        // thawed after a bounded wait then, as a paused VM would be resumed.
        const successor = spawn();
        const took = await Promise.race([
          successor.then(() => true),
          delay(SUCCESSOR_WAIT_MS).then(() => false),
        ]);
        if (took) {
          await delay(1_500);
          victim.thaw();
        } else {
          session.anomalies.push(
            `stop ${i + 1}: the frozen worker held the SQLite write lock; thawed before a successor registered`,
          );
          // Thawed, it is the live owner again and acts as a zombie a while; its successor can
          // only register once it is gone.
          victim.thaw();
          await delay(1_000);
          await victim.kill();
        }
        owner = await successor;
      } else {
        await delay(LEASE_MS * 3);
        victim.thaw();
      }
      await delay(1_000);
    }
    return injected;
  });
}

/**
 * Tools take 2–3 s at the service, longer than the lease; workers are killed
 * while calls are in flight and replaced, so first requests land late while
 * their runs are recovered elsewhere.
 */
export function slowToolTakeover(setup: ScenarioSetup): Promise<ScenarioResult> {
  const options = childOptions({ min: 1_000, max: 1_500 });
  const rng = rngOf(setup, "kills");
  const runs = setup.quick ? 12 : 48;
  const kills = setup.quick ? 3 : 10;
  return withWorkers(setup, options, runs, async (session, spawn) => {
    const live = [await spawn()];
    if (setup.store === "postgres") live.push(await spawn());
    for (let k = 0; k < kills; k++) {
      const i = k % live.length;
      const victim = live[i]!;
      if (!(await until(() => session.service.pending(victim.pid) > 0, 10_000)))
        session.anomalies.push(`kill ${k + 1}: the worker had no call in flight`);
      await delay(rng.int(100, 1_500));
      await victim.kill();
      live[i] = await spawn();
    }
    return kills;
  });
}
