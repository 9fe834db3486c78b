import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Flotilla } from "../src/index.js";
import { openFlotilla, ScriptedProvider, settle } from "./helpers/deadletter.js";

/*
 * A small fleet of two tenants, in every state an operator acts on, run by a
 * worker in the test process; `flotilla serve` reads and acts on the same
 * store (in this process or as a child process, the real CLI).
 */

export const TOKENS = {
  admin: "admin-token-0123456789",
  acme: "acme-token-0123456789",
  globex: "globex-token-0123456789",
};
export const TOKENS_ENV = `admin:${TOKENS.admin}:*,acme-ops:${TOKENS.acme}:acme,globex-ops:${TOKENS.globex}:globex`;

export interface TenantRuns {
  /** Completed: two LLM calls, a compensable effect, a child. */
  done: string;
  child: string;
  /** Waiting for a signal that never comes: to cancel. */
  waiting: string;
  /** Failed (plain error in agent code): to retry. */
  failed: string;
  /** Dead-lettered (non-retryable LLM error): to redrive. */
  dead: string;
  deadLetter: string;
  /** Parked on an effect whose outcome was lost: to resolve. */
  parked: string;
  parkedStep: string;
}

export interface ServeFleet {
  flotilla: Flotilla;
  store: string;
  acme: TenantRuns;
  globex: TenantRuns;
  /** Makes the failing run, the dead letter and the parked tool succeed from now on. */
  heal(): void;
  /** Compensations performed by undo (args of each). */
  refunds: unknown[];
  close(): Promise<void>;
}

const ask = (content: string, model = "sim-small") => ({
  model,
  messages: [{ role: "user" as const, content }],
});

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function openServeFleet(store: string): Promise<ServeFleet> {
  let healthy = false;
  const refunds: unknown[] = [];
  const provider = new ScriptedProvider((req) =>
    req.model === "broken" || (req.model === "flaky" && !healthy)
      ? { fail: "bad_request" }
      : `answer to ${req.model}`,
  );
  const f = await openFlotilla(provider, { inlineWaitMs: 20 }, store);
  const charge = f.tool("payments.charge", {
    effect: "compensable",
    key: (a: { order: string }) => `charge:${a.order}`,
    run: async (a: { order: string }) => ({ chargeId: `ch-${a.order}` }),
    compensate: async (a: { order: string }) => {
      refunds.push(a);
      return { refunded: a.order };
    },
  });
  const ship = f.tool("warehouse.ship", {
    effect: "irreversible",
    run: async (a: { order: string }) => {
      if (!healthy) throw new Error(`connection reset while shipping ${a.order}`);
      return { shipped: a.order };
    },
  });
  const research = f.agent("serve.research", async (ctx, topic: string) => {
    const r = await ctx.llm(ask(`research ${topic}`));
    return r.message.content;
  });
  const desk = f.agent("serve.desk", async (ctx, order: string) => {
    await ctx.llm(ask(`triage ${order}`));
    await ctx.call(charge, { order });
    const notes = await ctx.spawn(research, order);
    await ctx.llm(ask(`reply ${order}`, "sim-large"));
    return { order, notes };
  });
  const waiter = f.agent("serve.waiter", async (ctx) => ctx.waitFor("go"));
  const failing = f.agent("serve.failing", async (ctx) => {
    await ctx.now();
    if (!healthy) throw new Error("a bug in agent code");
    return "fixed";
  });
  const dead = f.agent(
    "serve.dead",
    async (ctx) => (await ctx.llm(ask("x", "flaky"))).message.content,
  );
  // Always refused by the model: a fresh non-retryable dead letter whenever one is needed.
  f.agent("serve.broken", async (ctx) => (await ctx.llm(ask("x", "broken"))).message.content);
  const parker = f.agent("serve.parker", async (ctx, order: string) => ctx.call(ship, { order }));

  async function tenantRuns(tenant: string): Promise<TenantRuns> {
    const opts = { tenant };
    const done = await f.start(desk, `${tenant}-1`, opts);
    await done.result({ timeoutMs: 10_000 });
    const child = (await f.store.listRuns({ parentId: done.id }))[0]?.id ?? "";
    const waiting = await f.start(waiter, null, opts);
    const failed = await f.start(failing, null, opts);
    const deadRun = await f.start(dead, null, opts);
    const parked = await f.start(parker, `${tenant}-2`, opts);
    for (const r of [failed, deadRun, parked]) await settle(f, r.id);
    await until(`run ${waiting.id} to suspend`, async () => {
      const run = await f.store.getRun(waiting.id);
      return run?.status === "waiting" && run.leaseOwner === null;
    });
    const [entry] = await f.listDeadLetters({ runId: deadRun.id, status: "open" });
    const unknown = (await f.store.readJournal(parked.id)).find((e) => e.type === "effect.unknown");
    return {
      done: done.id,
      child,
      waiting: waiting.id,
      failed: failed.id,
      dead: deadRun.id,
      deadLetter: entry?.id ?? "",
      parked: parked.id,
      parkedStep: unknown?.step ?? "",
    };
  }

  const acme = await tenantRuns("acme");
  const globex = await tenantRuns("globex");
  return {
    flotilla: f,
    store,
    acme,
    globex,
    refunds,
    heal: () => {
      healthy = true;
    },
    close: () => f.close(),
  };
}

/** Node arguments that run the CLI from source from any working directory. */
export const cliFromAnywhere = [
  "--import",
  import.meta.resolve("tsx"),
  join(import.meta.dirname, "..", "src", "cli", "main.ts"),
];

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts `flotilla serve --port 0 --json …` as a child process and waits until it listens. */
export async function startServeProcess(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...cliFromAnywhere, "serve", "--json", ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line && out.includes("\n")) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
  return {
    url,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A JSON request to the API; `token` undefined sends none. */
export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { token?: string | undefined; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: left as text (the page, /metrics)
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}
