import { z } from "zod";
import { LoopDetectedError, NoProgressError } from "../core/errors.js";
import { canonicalJson, sha256 } from "../core/json.js";

/** Loop-detector thresholds; defaults catch a runaway within a few dozen steps. */
export const LoopThresholdsSchema = z.strictObject({
  /** The same call (tool + canonical args, or a near-identical prompt) this many times in one run. Default 5. */
  repeatedCalls: z.number().int().min(2).optional(),
  /** This many steps in a row with no new effect, state change or output. Default 25. */
  noProgressSteps: z.number().int().min(2).optional(),
  /** The same spawn edge (agent A → agent B) this many times along one chain of runs. Default 3. */
  pingPong: z.number().int().min(2).optional(),
});
export type LoopThresholds = z.infer<typeof LoopThresholdsSchema>;
export type LoopLimits = { [K in keyof LoopThresholds]-?: number };

export const DEFAULT_LOOP_THRESHOLDS: LoopLimits = {
  repeatedCalls: 5,
  noProgressSteps: 25,
  pingPong: 3,
};

/**
 * Near-identical prompts share a fingerprint: case and whitespace differ
 * between turns of a loop without changing the ask. Numbers are kept: "turn
 * 3" and "turn 4" are different work in a long conversation, and a loop that
 * only bumps a counter is caught by the no-progress detector instead.
 */
export function normalizePrompt(text: string): string {
  return text.toLowerCase().replace(/\s+/g, " ").trim();
}

export function fingerprint(kind: string, name: string, subject: unknown): string {
  const body = typeof subject === "string" ? normalizePrompt(subject) : canonicalJson(subject);
  return `${kind}:${name}:${sha256(body).subarray(0, 12).toString("hex")}`;
}

/**
 * Watches one run's steps for loops. Replay feeds it the same steps in the
 * same order as the first execution, so it trips at the same step every time.
 */
export class LoopGuard {
  private readonly calls = new Map<string, number>();
  private readonly outputs = new Set<string>();
  private sinceProgress = 0;

  constructor(
    private readonly runId: string,
    private readonly thresholds: LoopLimits,
    /** Agent names from the root run to this one's parent. */
    private readonly lineage: readonly string[],
    private readonly agent: string,
  ) {}

  /** Counts a step about to run; throws when it repeats a call too often or nothing moves. */
  observe(fp: string, isNew: boolean): void {
    const n = (this.calls.get(fp) ?? 0) + 1;
    this.calls.set(fp, n);
    this.sinceProgress++;
    if (!isNew) return;
    if (n >= this.thresholds.repeatedCalls)
      throw new LoopDetectedError(this.runId, "repeated-call", { fingerprint: fp, times: n });
    if (this.sinceProgress > this.thresholds.noProgressSteps)
      throw new NoProgressError(this.runId, this.sinceProgress - 1);
  }

  /** A step's outcome: a value not seen before in this run, or a committed effect, is progress. */
  outcome(value: unknown, effect = false): void {
    const key = sha256(canonicalJson(value ?? null)).toString("hex");
    if (effect || !this.outputs.has(key)) this.sinceProgress = 0;
    this.outputs.add(key);
  }

  /** Refuses a spawn that would walk the same agent edge `pingPong` times along this chain. */
  checkSpawn(child: string): void {
    const path = [...this.lineage, this.agent, child];
    let times = 0;
    for (let i = 0; i + 1 < path.length; i++)
      if (path[i] === this.agent && path[i + 1] === child) times++;
    if (times >= this.thresholds.pingPong)
      throw new LoopDetectedError(this.runId, "ping-pong", {
        cycle: [this.agent, child],
        times,
        depth: path.length - 1,
      });
  }
}
