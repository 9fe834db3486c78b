import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimProvider } from "../../src/sim/index.js";
import { benign, benignAnswer, type BenignResult } from "./benign.js";
import { multiAgent, singleAgent, type Detection } from "./guarded.js";
import { MODEL, reviewerAnswer, round, SEED } from "./scenario.js";
import { unguarded, type UnguardedResult } from "./unguarded.js";

export { runawayReport } from "./report.js";

export interface RunawayBenchOptions {
  quick?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

export type RunawayReport = {
  model: string;
  unguarded: UnguardedResult & { wallSeconds: number };
  multiAgent: Detection & { wallSeconds: number };
  singleAgent: Detection & {
    wallSeconds: number;
    /** The same agent with the $1 budget and no loop detectors. */
    budgetOnly: Detection;
  };
  benign: BenignResult;
};

const STEP_CAP = 10_000;

async function timed<T>(work: () => Promise<T>): Promise<T & { wallSeconds: number }> {
  const t0 = performance.now();
  const result = await work();
  return { ...result, wallSeconds: round((performance.now() - t0) / 1000, 2) };
}

/**
 * The eleven-day, $47,000 loop in miniature: two reviewers that keep asking
 * each other to re-check an answer, on the simulated provider. Without
 * detectors (stopped only by a hard step cap: what it costs per call, and
 * that nothing else stops it); on Flotilla with a $1 run budget and the
 * default detectors, as two agents spawning each other and as one agent
 * alternating the roles (with the budget alone as its baseline); and the
 * patterns that must not trip a detector, each run three times.
 */
export async function runawayBench(options: RunawayBenchOptions = {}): Promise<RunawayReport> {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-runaway-"));
  const sim = await startSimProvider(
    { seed: SEED, latency: { medianMs: 0.2, p99Ms: 1 } },
    { respond: (req) => reviewerAnswer(req) ?? benignAnswer(req) },
  );
  const progress = options.onProgress;
  try {
    const cap = options.quick ? 1_000 : STEP_CAP;
    const before = await timed(() => unguarded(sim, cap, progress));
    progress?.(cap, cap, "multi-agent");
    const multi = await timed(() => multiAgent(sim, dir));
    progress?.(cap, cap, "single agent");
    const single = await timed(() => singleAgent(sim, dir));
    progress?.(cap, cap, "single agent, budget only");
    const budgetOnly = await singleAgent(sim, dir, false);
    progress?.(cap, cap, "benign patterns");
    return {
      model: MODEL,
      unguarded: before,
      multiAgent: multi,
      singleAgent: { ...single, budgetOnly },
      benign: await benign(sim, dir),
    };
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
