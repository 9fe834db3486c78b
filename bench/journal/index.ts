import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { journalChecks, type Check } from "./checks.js";
import { conversation, type ConversationFigures } from "./conversation.js";
import { postgresPlaces, sqlitePlaces } from "./places.js";
import { replay, type ReplayFigures } from "./replay.js";
import {
  STORE_MEASURES,
  storeFigures,
  type StoreFigures,
  type StoreSizes,
} from "./storeFigures.js";

export { journalReport, type JournalReport } from "./report.js";

export interface JournalBenchOptions {
  /** Fewer steps, runs, turns and children: well under a minute. */
  quick?: boolean;
  /** A fresh PostgreSQL database per measure; omitted: PostgreSQL is not measured. */
  newDatabase?: () => Promise<{ url: string; drop: () => Promise<void> }>;
  onProgress?: (done: number, total: number, label: string) => void;
}

export type JournalBenchResult = {
  postgres?: StoreFigures;
  sqlite: StoreFigures;
  conversation: ConversationFigures;
  replay: ReplayFigures;
  checks: Check[];
  machine: { cpus: number; loadAvg1m: number; node: string };
  /** What ran untimed first: steps of each kind before the sequential measure, runs before the 0-step one. */
  warmup: { steps: number; runs: number };
};

/**
 * Steps of each kind run before the sequential measure, and runs before the
 * 0-step one: the figures are a worker's steady state, not its first seconds.
 * V8 finishes optimizing the step path after about 4,000 steps (on in-memory
 * SQLite a read step goes from 0.07 to 0.017 ms of JavaScript over them);
 * before that a step costs up to three times its steady cost, which would
 * measure the JIT, not the journal. A worker runs for hours.
 */
const WARMUP_STEPS = 5_000;
const WARMUP_RUNS = 300;

const SIZES: Record<"quick" | "full", StoreSizes & { turns: number; children: number }> = {
  quick: {
    sequential: { steps: 100, warmup: 10, inserts: 100 },
    concurrentSteps: 20,
    zeroStep: { sameProcess: 10, otherProcess: 10, warmup: 3, inserts: 100 },
    turns: 100,
    children: 20,
  },
  full: {
    sequential: { steps: 12_000, warmup: WARMUP_STEPS, inserts: 12_000 },
    concurrentSteps: 50,
    zeroStep: { sameProcess: 50, otherProcess: 30, warmup: WARMUP_RUNS, inserts: 1_000 },
    turns: 1_000,
    children: 100,
  },
};

/** Progress units of the conversation and of the replay, each. */
const TAIL_UNITS = 10;

/**
 * The journal's overhead against the database underneath it, every ratio
 * comparing equal work at equal concurrency measured in the same run: steps
 * one after another and K runs at once against raw single-row INSERTs, the
 * cost of a run itself (worker here and in another process), on SQLite and
 * PostgreSQL; then, on SQLite, a long conversation (storage and per-turn
 * cost as its history grows) and a parent awaiting children one after
 * another (how much it re-executes and replays).
 */
export async function journalBench(options: JournalBenchOptions = {}): Promise<JournalBenchResult> {
  const sizes = SIZES[options.quick ? "quick" : "full"];
  const machine = {
    cpus: availableParallelism(),
    loadAvg1m: loadavg()[0] ?? 0,
    node: process.version,
  };
  const total = STORE_MEASURES * (options.newDatabase ? 2 : 1) + 2 * TAIL_UNITS;
  let done = 0;
  const report = (label: string) => options.onProgress?.(done, total, label);
  let measures = 0;
  const onMeasure = (label: string) => {
    done = measures++;
    report(label);
  };
  const dir = mkdtempSync(join(tmpdir(), "flotilla-journal-"));
  try {
    const sqlite = await storeFigures("sqlite", sqlitePlaces(dir), sizes, onMeasure);
    const postgres = options.newDatabase
      ? await storeFigures("postgres", postgresPlaces(options.newDatabase), sizes, onMeasure)
      : undefined;
    done = measures;
    const base = done;
    const talk = await conversation(join(dir, "conversation.db"), sizes.turns, (t) => {
      const at = base + Math.floor((t * TAIL_UNITS) / sizes.turns);
      if (at > done) {
        done = at;
        report("conversation turns");
      }
    });
    done = base + TAIL_UNITS;
    const children = await replay(join(dir, "replay.db"), sizes.children, (n) => {
      const at = base + TAIL_UNITS + Math.floor((n * TAIL_UNITS) / sizes.children);
      if (at > done) {
        done = at;
        report("sequential children");
      }
    });
    const figures = {
      ...(postgres ? { postgres } : {}),
      sqlite,
      conversation: talk,
      replay: children,
    };
    const warmup = { steps: sizes.sequential.warmup, runs: sizes.zeroStep.warmup };
    return { ...figures, checks: journalChecks(figures), machine, warmup };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
