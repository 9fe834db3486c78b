import pg from "pg";
import { setTimeout as delay } from "node:timers/promises";
import type { Rng } from "../../src/core/rng.js";
import type { FlotillaOptions } from "../../src/runtime/Flotilla.js";
import type { Store } from "../../src/store/types.js";
import { FaultyStore, type FaultOptions } from "../support/faultyStore.js";
import { ZERO_COUNTS } from "./count.js";
import {
  rngOf,
  withSession,
  SETTLE_MS,
  type Session,
  type ScenarioResult,
  type ScenarioSetup,
} from "./session.js";
import { ThrowawayPostgres } from "./throwawayPostgres.js";
import { orderPlans, payloadPlans, ticketPlans, type RunPlan } from "./workload.js";

/** A fault source: `stop()` ends it and says how many faults it injected. */
interface Injector {
  /** Resolves once the injector's minimum schedule is done (the fault window lasts at least that long). */
  minimum: Promise<unknown>;
  stop(): Promise<number>;
}

const WORKER = { concurrency: 16, leaseMs: 2_000, pollMs: 50 };

export const runsFor = (setup: ScenarioSetup): number => (setup.quick ? 40 : 120);
const windowFor = (setup: ScenarioSetup): number => (setup.quick ? 20_000 : 90_000);

/**
 * Starts the runs, executes them in this process over `store` while the
 * injector works, stops it once they settled (or the window closed), lets
 * them settle, and counts.
 */
async function underFault(
  session: Session,
  plans: readonly RunPlan[],
  runnerStore: (inner: Store) => Store,
  injector: (session: Session) => Injector,
  options: Omit<FlotillaOptions, "store"> = {},
): Promise<ScenarioResult> {
  await session.start(plans);
  await session.runner(runnerStore(session.inner), WORKER, options);
  const faults = injector(session);
  let injected = 0;
  try {
    await Promise.all([faults.minimum, session.settle(windowFor(session.setup))]);
  } finally {
    injected = await faults.stop();
  }
  await session.settle(SETTLE_MS);
  return session.result(injected);
}

/** The store's calls fail (or lose their replies) at a seeded rate. */
export function storeFaults(
  setup: ScenarioSetup,
  fault: Omit<FaultOptions, "seed">,
  plans: (rng: Rng, runs: number) => RunPlan[],
): Promise<ScenarioResult> {
  let faulty: FaultyStore | undefined;
  return withSession(setup, {}, (session) =>
    underFault(
      session,
      plans(rngOf(setup, "plans"), runsFor(setup)),
      (inner) => {
        faulty = new FaultyStore(inner, { ...fault, seed: rngOf(setup, "faults").int(0, 2 ** 31) });
        return faulty.store;
      },
      () => ({
        minimum: Promise.resolve(),
        stop: () => {
          faulty!.enabled = false;
          return Promise.resolve(faulty!.total);
        },
      }),
    ),
  );
}

export const storeErrors = (setup: ScenarioSetup) =>
  storeFaults(setup, { rate: 0.05, mode: "error" }, ticketPlans);
export const ambiguousCommit = (setup: ScenarioSetup) =>
  storeFaults(setup, { rate: 0.05, mode: "ambiguous", calls: ["commit"] }, ticketPlans);
/** Two tools, one key: with light store errors so key claims are also made on recovery. */
export const sharedKeys = (setup: ScenarioSetup) =>
  storeFaults(setup, { rate: 0.03, mode: "error" }, (_rng, runs) => orderPlans(runs));

/** Every ~300 ms, every other connection to the scenario's database is terminated. */
function terminator(url: string): Injector {
  let stopped = false;
  let terminated = 0;
  const loop = (async () => {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => undefined);
    await client.connect();
    try {
      while (!stopped) {
        await delay(300);
        const { rows } = await client.query<{ t: boolean }>(
          `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        terminated += rows.filter((r) => r.t).length;
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return {
    minimum: Promise.resolve(),
    stop: async () => {
      stopped = true;
      await loop;
      return terminated;
    },
  };
}

export const connectionDrop = (setup: ScenarioSetup) =>
  withSession(setup, {}, (session) =>
    underFault(
      session,
      ticketPlans(rngOf(setup, "plans"), runsFor(setup)),
      (inner) => inner,
      (s) => terminator(s.storeUrl),
    ),
  );

/** Restarts (cleanly, or by crashing it) the scenario's own server, at least `times` times. */
function restarter(server: ThrowawayPostgres, rng: Rng, times: number): Injector {
  let stopped = false;
  let restarts = 0;
  let reachedMinimum!: () => void;
  const minimum = new Promise<void>((resolve) => (reachedMinimum = resolve));
  const loop = (async () => {
    while (!stopped || restarts < times) {
      await delay(rng.int(400, 1_500));
      await server.restart(restarts % 2 === 0 ? "immediate" : "fast");
      restarts++;
      if (restarts >= times) reachedMinimum();
    }
  })();
  return {
    minimum: Promise.race([minimum, loop]),
    stop: async () => {
      stopped = true;
      await loop;
      return restarts;
    },
  };
}

export async function postgresRestart(setup: ScenarioSetup): Promise<ScenarioResult> {
  const skip = ThrowawayPostgres.skipReason();
  if (skip) {
    if (process.env.CI === "true") throw new Error(`CI=true but ${skip}`);
    return { store: setup.store, fault: setup.fault, skipped: skip, ...ZERO_COUNTS };
  }
  const server = await ThrowawayPostgres.create();
  try {
    return await withSession(setup, { storeUrl: server.url }, (session) =>
      underFault(
        session,
        ticketPlans(rngOf(setup, "plans"), runsFor(setup) * 2),
        (inner) => inner,
        () => restarter(server, rngOf(setup, "restarts"), setup.quick ? 3 : 6),
      ),
    );
  } finally {
    await server.destroy();
  }
}

/** A share of runs produce values no store can hold; the rest must not notice. */
export const badPayloads = (setup: ScenarioSetup) => {
  const plans = payloadPlans(rngOf(setup, "plans"), runsFor(setup) * 2);
  const bad = plans.filter((p) => p.expect.length > 0).length;
  return withSession(setup, {}, (session) =>
    underFault(
      session,
      plans,
      (inner) => inner,
      () => ({ minimum: Promise.resolve(), stop: () => Promise.resolve(bad) }),
    ),
  );
};

/** The service acts, then loses the answer; no retry is allowed to paper over it. */
export const lostResponse = (setup: ScenarioSetup) => {
  const rng = rngOf(setup, "drops");
  let dropping = true;
  let service: Session["service"] | undefined;
  return withSession(
    setup,
    { service: { dropResponse: () => dropping && rng.next() < 0.1 } },
    (session) => {
      service = session.service;
      return underFault(
        session,
        ticketPlans(rngOf(setup, "plans"), runsFor(setup)),
        (inner) => inner,
        () => ({
          minimum: Promise.resolve(),
          stop: () => {
            dropping = false;
            return Promise.resolve(service!.dropped);
          },
        }),
        // Retries exhausted by design. The breaker is kept out of it: a chance run of drops would
        // open it and fail runs as an outage does (issue 13's ground), not as a lost response.
        { resilience: { defaults: { maxAttempts: 1, breaker: { minimumCalls: 1_000_000 } } } },
      );
    },
  );
};
