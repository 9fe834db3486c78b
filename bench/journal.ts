import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { canonicalJson } from "../src/core/json.js";
import type { LlmMessage, LlmProvider } from "../src/providers/types.js";
import { Flotilla } from "../src/runtime/Flotilla.js";
import { SqliteDriver } from "../src/store/sqlite/driver.js";

export interface JournalBenchOptions {
  runs: number;
  concurrency: number;
  turns: number;
  postgresUrl?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

interface StoreFigures {
  stepsPerSec: number;
  rawInsertsPerSec: number;
  ratio: number;
  p50StepMs: number;
  p99StepMs: number;
  runs: number;
  concurrency: number;
}

const instant: LlmProvider = {
  name: "instant",
  complete: (request) =>
    Promise.resolve({
      message: { role: "assistant", content: `ok ${request.messages.length}` },
      usage: { inputTokens: 10, outputTokens: 2 },
      model: request.model,
      finishReason: "stop",
    }),
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** A 10-step agent (LLM calls, idempotent effects, reads) run many times concurrently. */
async function measureRuntime(store: string, runs: number, concurrency: number, onRun: () => void) {
  const f = await Flotilla.open({
    store,
    providers: { default: instant },
    worker: { concurrency, pollMs: 5 },
  });
  const stepMs: number[] = [];
  const timed = async <T>(p: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const out = await p();
    stepMs.push(performance.now() - t);
    return out;
  };
  const note = f.tool("bench.note", {
    effect: "idempotent",
    run: (a: { i: number }) => Promise.resolve(a.i),
  });
  const lookup = f.tool("bench.lookup", {
    effect: "read",
    run: (a: { i: number }) => Promise.resolve(a.i * 2),
  });
  const agent = f.agent("bench.ten-steps", async (ctx, n: number) => {
    for (let i = 0; i < 2; i++) {
      await timed(() =>
        ctx.llm({ model: "m", messages: [{ role: "user", content: `run ${n} turn ${i}` }] }),
      );
      await timed(() => ctx.call(note, { i }));
      await timed(() => ctx.call(lookup, { i }));
      await timed(() =>
        ctx.llm({ model: "m", messages: [{ role: "user", content: `run ${n} check ${i}` }] }),
      );
      await timed(() => ctx.call(note, { i: i + 10 }));
    }
    return n;
  });
  const t0 = performance.now();
  const handles = [];
  for (let i = 0; i < runs; i++) handles.push(await f.start(agent, i));
  await Promise.all(handles.map((h) => h.result().then(onRun)));
  const seconds = (performance.now() - t0) / 1000;
  await f.close();
  stepMs.sort((a, b) => a - b);
  return {
    stepsPerSec: (runs * 10) / seconds,
    p50: percentile(stepMs, 0.5),
    p99: percentile(stepMs, 0.99),
  };
}

/** The baseline: one durable single-row insert per step, as naive journaling would do. */
function rawSqlite(path: string, seconds: number): number {
  const db = new SqliteDriver(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE raw_steps (id INTEGER PRIMARY KEY, run TEXT, step INTEGER, data TEXT)");
  const insert = db.prepare("INSERT INTO raw_steps (run, step, data) VALUES (?, ?, ?)");
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) insert.run("r", n++, JSON.stringify({ value: n }));
  const rate = n / ((performance.now() - t0) / 1000);
  db.close();
  return rate;
}

async function rawPostgres(url: string, seconds: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    "CREATE TABLE IF NOT EXISTS raw_steps (id BIGSERIAL PRIMARY KEY, run TEXT, step INT, data JSONB)",
  );
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    await client.query("INSERT INTO raw_steps (run, step, data) VALUES ($1, $2, $3)", [
      "r",
      n++,
      JSON.stringify({ value: n }),
    ]);
  }
  const rate = n / ((performance.now() - t0) / 1000);
  await client.end();
  return rate;
}

async function figures(
  runtime: { stepsPerSec: number; p50: number; p99: number },
  raw: number,
  runs: number,
  concurrency: number,
): Promise<StoreFigures> {
  return {
    stepsPerSec: round(runtime.stepsPerSec, 0),
    rawInsertsPerSec: round(raw, 0),
    ratio: round(runtime.stepsPerSec / raw),
    p50StepMs: round(runtime.p50),
    p99StepMs: round(runtime.p99),
    runs,
    concurrency,
  };
}

const userTurn = (t: number): LlmMessage => ({
  role: "user",
  content: `Turn ${t}: where is my order #${1000 + t}? ${"Please check again. ".repeat(8)}`,
});
const assistantTurn = (historyLength: number): LlmMessage => ({
  role: "assistant",
  content: `Answer to turn ${historyLength}: ${"the order ships Tuesday; ".repeat(16)}`,
});
const SYSTEM: LlmMessage = {
  role: "system",
  content: "You are a support agent for an online shop.",
};

/** One run resending its growing history each turn: storage must grow with what is new. */
async function conversation(store: string, turns: number, onTurn: (t: number) => void) {
  const provider: LlmProvider = {
    name: "talker",
    complete: (request) =>
      Promise.resolve({
        message: assistantTurn(request.messages.length),
        usage: { inputTokens: 100, outputTokens: 100 },
        model: request.model,
        finishReason: "stop",
      }),
  };
  const f = await Flotilla.open({ store, providers: { default: provider }, worker: { pollMs: 5 } });
  const agent = f.agent("bench.conversation", async (ctx, n: number) => {
    const history: LlmMessage[] = [SYSTEM];
    for (let t = 0; t < n; t++) {
      history.push(userTurn(t));
      const r = await ctx.llm({ model: "m", messages: history });
      history.push(r.message);
      if (t % 50 === 0) onTurn(t);
    }
    return history.length;
  });
  await (await f.start(agent, turns)).result();
  const bytes = await f.store.storedBytes();
  await f.close();
  // The distinct messages the conversation produced, each counted once.
  const messages = [SYSTEM];
  for (let t = 0; t < turns; t++) messages.push(userTurn(t), assistantTurn(2 * t + 2));
  const unique = new Set(messages.map((m) => canonicalJson(m)));
  const uniqueBytes = [...unique].reduce((s, m) => s + Buffer.byteLength(m), 0);
  const storedBytes = bytes.events + bytes.blobs;
  return { turns, storedBytes, uniqueBytes, ratio: round(storedBytes / uniqueBytes) };
}

export async function journalBench(options: JournalBenchOptions): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-journal-"));
  const total = options.runs * (options.postgresUrl ? 2 : 1) + options.turns;
  let done = 0;
  const tick = (label: string) => () => options.onProgress?.(++done, total, label);
  try {
    const sqliteRuntime = await measureRuntime(
      join(dir, "runtime.db"),
      options.runs,
      options.concurrency,
      tick("sqlite runs"),
    );
    const out: Record<string, unknown> = {
      sqlite: await figures(
        sqliteRuntime,
        rawSqlite(join(dir, "raw.db"), 3),
        options.runs,
        options.concurrency,
      ),
    };
    if (options.postgresUrl) {
      const pgRuntime = await measureRuntime(
        options.postgresUrl,
        options.runs,
        options.concurrency,
        tick("postgres runs"),
      );
      out.postgres = await figures(
        pgRuntime,
        await rawPostgres(options.postgresUrl, 3),
        options.runs,
        options.concurrency,
      );
    }
    let lastTurn = 0;
    out.conversation = await conversation(join(dir, "conversation.db"), options.turns, (t) => {
      done += t - lastTurn;
      lastTurn = t;
      options.onProgress?.(done, total, "conversation turns");
    });
    out.baseline =
      "raw single-row autocommit INSERTs on one connection, same database, same durability (SQLite WAL synchronous=FULL; PostgreSQL synchronous_commit as configured)";
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
