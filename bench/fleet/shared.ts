import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { startSimProvider } from "../../src/sim/index.js";
import { admittedOverBucket } from "./measure.js";
import { MODEL, prompt } from "./workload.js";

const here = fileURLToPath(import.meta.url);
const workerScript = here.replace(/shared\.(ts|js)$/, "worker.$1");

interface WorkerReport {
  admissions: { at: number; tokens: number }[];
  status429: number;
  errors: number;
  degraded: boolean;
}

function runWorker(args: Record<string, unknown>): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, workerScript, JSON.stringify(args)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`fleet worker exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as WorkerReport);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/**
 * Two processes share one limiter on `limiter` and one key: whether,
 * together, they ever overdrew the key's buckets (burst included), and what
 * the provider answered.
 */
export async function measureShared(limiter: string, backend: string, quick: boolean) {
  const rpm = 600;
  const tpm = 60_000;
  const durationMs = quick ? 8_000 : 20_000;
  const sim = await startSimProvider({
    limits: { rpm, tpm },
    latency: { medianMs: 150, p99Ms: 600 },
  });
  try {
    const common = {
      limiter,
      redisPrefix: `flotilla:bench:${randomBytes(4).toString("hex")}:`,
      baseURL: sim.openaiBaseURL,
      // A fresh name, so state left by an earlier run cannot help or hurt.
      dependency: `sim:${MODEL}:${randomBytes(4).toString("hex")}`,
      model: MODEL,
      rpm,
      tpm,
      loops: 12,
      startAt: Date.now() + 3000,
      durationMs,
      prompt: prompt(0, 0, 0, 400),
    };
    const reports = await Promise.all([runWorker(common), runWorker(common)]);
    const admissions = reports.flatMap((r) => r.admissions);
    const stats = sim.stats();
    return {
      processes: reports.length,
      backend,
      durationMs,
      limits: { rpm, tpm },
      admitted: admissions.length,
      admittedByProcess: reports.map((r) => r.admissions.length),
      ...admittedOverBucket(admissions, { rpm, tpm }),
      providerRequests: stats.requests,
      status429: stats.rateLimited,
      degraded: reports.some((r) => r.degraded),
    };
  } finally {
    await sim.close();
  }
}
export type SharedFigures = Awaited<ReturnType<typeof measureShared>>;
