import OpenAI from "openai";
import type { SimProvider } from "../../src/sim/index.js";

/**
 * The clients Flotilla is measured against, straight on the OpenAI SDK:
 * the SDK on its own defaults (2 retries with its backoff, honouring
 * retry-after), and the stacked strawman of a naive agent (SDK 3 attempts ×
 * a wrapper retrying 3 times × an agent loop retrying 3 times).
 */

export const MODEL = "sim-small";

export const ask = (task: number, step: number) => ({
  model: MODEL,
  messages: [{ role: "user" as const, content: `task ${task} step ${step}` }],
  max_tokens: 16,
});

export type Call = (client: OpenAI, task: number, step: number) => Promise<boolean>;

/** One call through the SDK; its own retries are whatever the client was made with. */
export const sdkCall: Call = (client, task, step) =>
  client.chat.completions.create(ask(task, step)).then(
    () => true,
    () => false,
  );

/** The naive stack: the SDK retries (3 attempts), a wrapper retries it 3 times, the agent loop 3 times. */
export const stackedCall: Call = async (client, task, step) => {
  for (let loop = 0; loop < 3; loop++) {
    for (let wrapper = 0; wrapper < 3; wrapper++) {
      if (await sdkCall(client, task, step)) return true;
    }
  }
  return false;
};

/** The SDK's default retries (2), or none. */
export function client(sim: SimProvider, maxRetries?: number): OpenAI {
  return new OpenAI({
    baseURL: sim.openaiBaseURL,
    apiKey: "bench",
    ...(maxRetries !== undefined ? { maxRetries } : {}),
  });
}

/** Runs `n` tasks with at most `limit` at a time. */
export async function pool<T>(
  n: number,
  limit: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

/** `tasks` tasks of `steps` calls each, 50 at a time: the share that succeeded and requests per call. */
export async function rawTasks(
  sim: SimProvider,
  tasks: number,
  steps: number,
  call: Call,
  sdk: OpenAI,
): Promise<{ success: number; amplification: number }> {
  sim.reset();
  const ok = await pool(tasks, 50, async (i) => {
    for (let s = 0; s < steps; s++) if (!(await call(sdk, i, s))) return false;
    return true;
  });
  return {
    success: ok.filter(Boolean).length / tasks,
    amplification: sim.stats().requests / (tasks * steps),
  };
}

/** Requests per logical call when every call of a stack meets a full outage and runs to exhaustion. */
export async function outageAmplification(
  sim: SimProvider,
  calls: number,
  call: Call,
  sdk: OpenAI,
): Promise<number> {
  sim.reset();
  sim.setOutage(true);
  try {
    await Promise.all(Array.from({ length: calls }, (_, i) => call(sdk, i, 0)));
    return sim.stats().requests / calls;
  } finally {
    sim.setOutage(false);
  }
}
