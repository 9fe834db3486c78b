import { z } from "zod";
import { LoopDetectedError, NoProgressError } from "../core/errors.js";
import { canonicalJson, sha256Hex } from "../core/json.js";
import { EchoWatch, type AskedMessage } from "./echoes.js";

/** Loop-detector thresholds; defaults catch a runaway within a few dozen steps. */
export const LoopThresholdsSchema = z.strictObject({
  /** The same request (tool + canonical args, or the whole LLM request) getting the same result this many times in one run. Default 5. */
  repeatedCalls: z.number().int().min(2).optional(),
  /** This many steps in a row with no new effect, state change or output. Default 25. */
  noProgressSteps: z.number().int().min(2).optional(),
  /** The same spawn edge (agent A → agent B) this many times along one chain of runs. Default 3. */
  pingPong: z.number().int().min(2).optional(),
  /** This many LLM answers in a row that echo a recent answer to an ask carrying nothing new (see `EchoWatch`). Default 6. */
  echoedAnswers: z.number().int().min(2).optional(),
  /** How many recent LLM steps an ask and an answer are compared with. Default 16. */
  echoWindow: z.number().int().min(1).max(1000).optional(),
  /** The share of an answer's word pairs that recent answers said already, for it to echo them (0 to 1]. Default 0.8. */
  echoOverlap: z.number().gt(0).max(1).optional(),
});
export type LoopThresholds = z.infer<typeof LoopThresholdsSchema>;
export type LoopLimits = { [K in keyof LoopThresholds]-?: number };

export const DEFAULT_LOOP_THRESHOLDS: LoopLimits = {
  repeatedCalls: 5,
  noProgressSteps: 25,
  pingPong: 3,
  echoedAnswers: 6,
  echoWindow: 16,
  echoOverlap: 0.8,
};

/** An agent's thresholds (already validated) with the defaults filled in. */
export function loopLimits(own: LoopThresholds): LoopLimits {
  const limits = { ...DEFAULT_LOOP_THRESHOLDS };
  for (const key of Object.keys(limits) as (keyof LoopLimits)[]) {
    const value = own[key];
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

/**
 * A request's fingerprint: its kind, name and canonical JSON, hashed. The
 * subject is the whole request (for an LLM step, its parameters and the
 * head of its message chain, which hashes the whole history), so two calls
 * share a fingerprint only when they ask exactly the same thing.
 */
export function fingerprint(kind: string, name: string, subject: unknown): string {
  return hashedFingerprint(kind, name, canonicalJson(subject ?? null));
}

function hashedFingerprint(kind: string, name: string, json: string): string {
  // The first 12 bytes of the digest, as hex.
  return `${kind}:${name}:${sha256Hex(json).slice(0, 24)}`;
}

/**
 * Results (and requests, see `RequestKey`) no longer than a digest's hex are
 * their own key: no hash to pay for on the small ones most steps make. The
 * prefixes keep the two kinds of key apart, so two results share a key only
 * when their canonical JSON is equal.
 */
const INLINE_KEY_CHARS = 64;

function resultKey(value: unknown): string {
  const json = canonicalJson(value ?? null);
  return typeof json === "string" && json.length <= INLINE_KEY_CHARS
    ? `=${json}`
    : `#${sha256Hex(json)}`;
}

/**
 * A request as the detectors count it, for the steps most runs make (a
 * tool call with small arguments): short canonical JSON is its own key, as
 * results are (see `resultKey`), so no hash is paid for unless an error
 * needs the fingerprint. The key never leaves memory; what an error carries
 * is always the hashed fingerprint, which does not hold the arguments (they
 * may hold secrets). Names never hold `=`, so an inline key
 * (`<kind>:<name>:=<json>`) is never a fingerprint, nor another request's.
 */
export class RequestKey {
  readonly key: string;

  constructor(
    private readonly kind: string,
    private readonly name: string,
    subject: unknown,
  ) {
    const json = canonicalJson(subject ?? null);
    this.key =
      json.length <= INLINE_KEY_CHARS
        ? `${kind}:${name}:=${json}`
        : hashedFingerprint(kind, name, json);
  }

  /** `fingerprint(kind, name, subject)`. */
  get fingerprint(): string {
    const { key, kind, name } = this;
    const inline = `${kind}:${name}:=`;
    return key.startsWith(inline) ? hashedFingerprint(kind, name, key.slice(inline.length)) : key;
  }
}

/** What the detectors see of a step once its outcome is known. */
export interface StepSeen {
  /** The request, from `fingerprint` (or a `RequestKey`, which hashes only when needed). */
  fp: string | RequestKey;
  /** What the step returned. */
  value: unknown;
  /** A committed effect: progress, whatever it returned. */
  effect?: boolean;
  /** An LLM step: the messages it sent and its answer as text, for the echo detector. */
  llm?: { messages: readonly AskedMessage[]; answer: string };
}

/**
 * Watches one run's steps for loops. Steps are judged by what they asked
 * and what they got: a request repeated with the same result is a loop; the
 * same request with a new result (a poll) is progress. Replay feeds it the
 * same steps and outcomes in the same order as the first execution, so it
 * trips at the same step every time.
 */
export class LoopGuard {
  /** Times each (request, result) pair was seen. */
  private readonly repeats = new Map<string, number>();
  private readonly outputs = new Set<string>();
  private readonly echoes: EchoWatch;
  private sinceProgress = 0;

  constructor(
    private readonly runId: string,
    private readonly thresholds: LoopLimits,
    /** Agent names from the root run to this one's parent. */
    private readonly lineage: readonly string[],
    private readonly agent: string,
  ) {
    this.echoes = new EchoWatch(thresholds);
  }

  /**
   * Counts a step about to run; throws when `noProgressSteps` steps in a
   * row brought nothing new. A replayed step never trips (it ran once, so
   * it passed); the next new step does.
   */
  observe(isNew: boolean): void {
    this.sinceProgress++;
    if (isNew && this.sinceProgress > this.thresholds.noProgressSteps)
      throw new NoProgressError(this.runId, this.sinceProgress - 1);
  }

  /**
   * A step's outcome, new or replayed. Throws at the `repeatedCalls`-th time
   * a request gets the result it got before, and at the `echoedAnswers`-th
   * echo in a row (see `EchoWatch`). The step is already journaled: a trip
   * stops the run at that step, on replay too.
   */
  outcome(seen: StepSeen): void {
    const result = resultKey(seen.value);
    // One lookup: the set grows only when the result is new.
    const known = this.outputs.size;
    const fresh = this.outputs.add(result).size !== known;
    if (fresh || seen.effect) this.sinceProgress = 0;
    const { fp } = seen;
    const pair = `${typeof fp === "string" ? fp : fp.key}:${result}`;
    const times = (this.repeats.get(pair) ?? 0) + 1;
    this.repeats.set(pair, times);
    if (times >= this.thresholds.repeatedCalls) {
      const fingerprint = typeof fp === "string" ? fp : fp.fingerprint;
      throw new LoopDetectedError(this.runId, "repeated-call", { fingerprint, times });
    }
    if (!seen.llm) {
      if (fresh || seen.effect) this.echoes.reset();
      return;
    }
    const streak = this.echoes.see(seen.llm.messages, seen.llm.answer);
    if (streak >= this.thresholds.echoedAnswers)
      throw new NoProgressError(this.runId, streak, "echo");
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
