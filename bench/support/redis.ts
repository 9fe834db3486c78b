import { Redis } from "ioredis";

/** The Redis tests and benchmarks use: REDIS_URL, else 127.0.0.1:6379. */
export function redisUrl(): string {
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

/**
 * Why Redis tests must be skipped, or undefined when they can run. With
 * CI=true an unreachable server is a failure, never a skip.
 */
export async function redisSkipReason(): Promise<string | undefined> {
  const client = new Redis(redisUrl(), {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined);
  let problem: string | undefined;
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    problem = (err as Error).message;
  } finally {
    client.disconnect();
  }
  if (!problem) return undefined;
  if (process.env.CI === "true")
    throw new Error(`CI=true but Redis is unreachable at ${redisUrl()}: ${problem}`);
  const reason = `Redis unreachable at ${redisUrl()} (${problem}); skipping Redis tests`;
  process.stderr.write(`# ${reason}\n`);
  return reason;
}
