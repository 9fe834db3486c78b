import { startSimProvider, type SimProvider } from "../../src/sim/index.js";
import { percentile, round } from "./measure.js";
import type { FleetSide } from "./sides.js";
import type { Scenario } from "./workload.js";

/** Opens one side on `sim` for `threads` agents at a time. */
export type OpenSide = (sim: SimProvider, apiKey: string, threads: number) => Promise<FleetSide>;

/** One run of the job: all agents at once, each call after the last, timed until the last agent is done. */
async function once(sim: SimProvider, s: Scenario, open: OpenSide, apiKey: string) {
  sim.reset();
  const { agents, calls } = s.smallJob;
  const side = await open(sim, apiKey, agents);
  try {
    const t0 = Date.now();
    const done = await Promise.all(
      Array.from({ length: agents }, (_, agent) =>
        side.runTask(agent, 0, calls, new AbortController().signal).then(
          () => true,
          () => false,
        ),
      ),
    );
    const key = sim.stats().keys[apiKey];
    return {
      wallSeconds: round((Date.now() - t0) / 1000, 2),
      completedAgents: done.filter(Boolean).length,
      providerRequests: key?.requests ?? 0,
      status429: key?.rateLimited ?? 0,
    };
  } finally {
    await side.close();
  }
}

type Round = Awaited<ReturnType<typeof once>>;

function summary(s: Scenario, rounds: Round[]) {
  return {
    /** The median round's. */
    wallSeconds: percentile(
      rounds.map((r) => r.wallSeconds),
      0.5,
    ),
    agents: s.smallJob.agents,
    callsPerAgent: s.smallJob.calls,
    status429: rounds.reduce((n, r) => n + r.status429, 0),
    providerRequests: rounds.reduce((n, r) => n + r.providerRequests, 0),
    completedAgents: rounds.reduce((n, r) => n + r.completedAgents, 0),
    rounds: rounds.map((r) => r.wallSeconds),
  };
}

/**
 * A job small enough for the key's burst (8 agents × 5 calls, about a
 * quarter of the token bucket), on a fresh key, naive then Flotilla, for
 * `rounds` rounds. Each round has its own simulator seed, and both sides of a
 * round see the same latencies in order of arrival; the figures are the
 * median round's wall time and totals over all rounds.
 */
export async function measureSmallJob(
  s: Scenario,
  rounds: number,
  naive: OpenSide,
  flotilla: OpenSide,
  onRound: () => void,
) {
  const naiveRounds: Round[] = [];
  const flotillaRounds: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    const sim = await startSimProvider({
      seed: 100 + r,
      limits: { rpm: s.rpm, tpm: s.tpm },
      latency: s.latency,
    });
    try {
      naiveRounds.push(await once(sim, s, naive, "naive-small"));
      flotillaRounds.push(await once(sim, s, flotilla, "flotilla-small"));
    } finally {
      await sim.close();
    }
    onRound();
  }
  const out = { naive: summary(s, naiveRounds), flotilla: summary(s, flotillaRounds) };
  return { ...out, ratio: round(out.flotilla.wallSeconds / out.naive.wallSeconds, 2) };
}
