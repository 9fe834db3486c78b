import { createRng } from "../../src/core/rng.js";

export const MODEL = "sim-small";
export const TENANTS = ["t0", "t1", "t2", "t3"];

/**
 * The fleet: `threads` agent workers of 4 tenants, each running tasks of
 * `callsPerTask` LLM calls in sequence, one task after another, for
 * `windowMs` — a closed loop, so both sides offer the provider the same
 * load for the same time. The key's RPM and TPM buckets start full (a
 * minute's worth) and refill continuously, as OpenAI's and Anthropic's do;
 * the fleet could use several times what they admit in the window.
 */
export function scenario(quick: boolean) {
  return {
    threads: 100,
    callsPerTask: 3,
    windowMs: quick ? 12_000 : 30_000,
    // ~300 prompt tokens; the answers are 8–48 tokens, 64 reserved.
    promptChars: 1200,
    maxTokens: 64,
    rpm: 300,
    tpm: 60_000,
    latency: { medianMs: 300, p99Ms: 1200 },
    /** The job that fits in the key's burst: 8 agents of 5 calls, timed over several rounds. */
    smallJob: { agents: 8, calls: 5, rounds: quick ? 3 : 5 },
  };
}
export type Scenario = ReturnType<typeof scenario>;

/** What a caller offers: its agent (thread), task and call number lead the prompt, so records can be traced back. */
export function prompt(thread: number, task: number, call: number, chars: number): string {
  const words: string[] = [`thread ${thread} task ${task} call ${call}:`];
  const rng = createRng(thread * 100_000 + task * 100 + call);
  while (words.join(" ").length < chars) words.push(`w${rng.int(0, 9999)}`);
  return words.join(" ");
}

/** The thread and task a prompt was made for. */
export function traceOf(text: string): { thread: number; task: number } {
  const m = /^thread (\d+) task (\d+) /.exec(text);
  return { thread: Number(m?.[1] ?? -1), task: Number(m?.[2] ?? -1) };
}

export function tenantOf(thread: number): string {
  return TENANTS[thread % TENANTS.length] ?? "t0";
}

/** Start offsets: tenant t's threads start in [t/4, (t+1)/4) of the first second, in a seeded order. */
export function startOffsets(threads: number): number[] {
  const rng = createRng(7);
  return Array.from(
    { length: threads },
    (_, thread) => (thread % TENANTS.length) * 250 + rng.next() * 250,
  );
}
