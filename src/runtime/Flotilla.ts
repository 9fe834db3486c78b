import { hostname } from "node:os";
import { z } from "zod";
import { systemClock, type Clock } from "../core/clock.js";
import {
  FlotillaError,
  InvalidArgumentError,
  NotFoundError,
  RunKeyFailedError,
} from "../core/errors.js";
import { newRunId, newToken } from "../core/ids.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { parseOptions } from "../core/validate.js";
import {
  BudgetLimitsSchema,
  BudgetsOptionsSchema,
  type BudgetLimits,
  type BudgetsOptions,
  type RunBudget,
} from "../deadletter/budgets.js";
import { loopLimits, type LoopLimits } from "../deadletter/loops.js";
import {
  discardDeadLetter,
  redriveClass,
  redriveDeadLetter,
  type BulkRedriveOptions,
  type RedriveOptions,
} from "../deadletter/redrive.js";
import { RoutesSchema, type Routes } from "../deadletter/routes.js";
import { DeadLetterRouting } from "../deadletter/routing.js";
import type { DeadLetterClass } from "../deadletter/taxonomy.js";
import type { DeadLetter, DeadLetterFilter, NewDeadLetter } from "../deadletter/types.js";
import { resolveEffect as resolveParkedEffect, type EffectDecision } from "../effects/resolve.js";
import { defineTool, type Tool, type ToolSpec } from "../effects/Tool.js";
import type { Admission } from "../fleet/types.js";
import { PayloadWriter } from "../journal/payloads.js";
import type { LlmProvider, LlmResponse } from "../providers/types.js";
import { Bulkhead } from "../resilience/Bulkhead.js";
import { Resilience, type ResilienceOptions } from "../resilience/Resilience.js";
import { cancelRun, type CancelRunOptions } from "../saga/cancelRun.js";
import type { CancelReceipt } from "../saga/receipt.js";
import { DEFAULT_STORE, openStore } from "../store/open.js";
import type { CreatedRun, RunRecord, Store } from "../store/types.js";
import { defineAgent, isAgent, type Agent, type AgentFn, type AgentOptions } from "./Agent.js";
import { retryRun, type RetryOptions } from "./retryRun.js";
import { RunHandle } from "./RunHandle.js";
import { InlineWaits, type InlineWaitsHost } from "./inlineWait.js";
import { Settlement } from "./Settlement.js";
import { Worker, type WorkerHost, type WorkerOptions } from "./Worker.js";

const optionsSchema = z.object({
  store: z.union([z.string().min(1), z.object({ commit: z.function() }).loose()]).optional(),
  providers: z
    .record(z.string(), z.object({ name: z.string(), complete: z.function() }).loose())
    .optional(),
  workerId: z.string().min(1).optional(),
  poolSize: z.number().int().min(1).max(1_000).optional(),
  inlineSleepMs: z.number().min(0).optional(),
  inlineWaitMs: z.number().min(0).optional(),
  outageWaitMs: z.number().min(0).optional(),
  stopGraceMs: z.number().min(0).optional(),
  worker: z.union([z.literal(false), z.object({}).loose()]).optional(),
  resilience: z.object({}).loose().optional(),
  admission: z.object({ acquire: z.function() }).loose().optional(),
  tenantBulkhead: z
    .object({ concurrency: z.number().int().min(1), queue: z.number().int().min(0).optional() })
    .optional(),
  budgets: BudgetsOptionsSchema.optional(),
  deadLetters: z.strictObject({ routes: RoutesSchema.optional() }).optional(),
});

export interface FlotillaOptions {
  /** A store URL (`postgres://…`, a SQLite path) or an open Store. Default `./.flotilla/flotilla.db`. */
  store?: string | Store;
  /** LLM providers by name; `ctx.llm` uses "default", or the only one given. */
  providers?: Record<string, LlmProvider>;
  clock?: Clock;
  /** Names this process in leases and journals. Default: host:pid:random. */
  workerId?: string;
  /**
   * PostgreSQL connections this process may open (LISTEN excluded). Default:
   * the in-process worker's concurrency + 4, at least 10 and at most 64.
   */
  poolSize?: number;
  /** Sleeps up to this long are waited in-process; longer ones release the worker. Default 2 s. */
  inlineSleepMs?: number;
  /**
   * A `ctx.spawn` or `ctx.waitFor` is waited in-process for up to this long,
   * keeping the worker slot (never one its children need), so a child or a
   * signal that comes soon resumes the run without replaying it; longer waits
   * suspend the run. 0 suspends at once. Default 5 s.
   */
  inlineWaitMs?: number;
  /**
   * An LLM call refused because its provider is down (breaker open, retries
   * or retry budget spent on transient failures, throttled) waits for it to
   * recover instead of failing its run: in memory for a while, then
   * suspended with its worker slot released, and tried again at the
   * breaker's next probe or once it has recovered. It waits until the run's
   * deadline, and at most this long from when it first met the outage; then it fails
   * with FLOTILLA_DEPENDENCY_UNAVAILABLE. A call with an `onFailure` policy
   * follows that policy instead. 0 fails at once. Default 1 h.
   */
  outageWaitMs?: number;
  /** How long a cancelled or parked run may take to unwind. Default 10 s. */
  stopGraceMs?: number;
  /** Options of the in-process worker started by `start()`, or `false` for none. */
  worker?: WorkerOptions | false;
  /** Retry, budget and breaker policy per dependency. */
  resilience?: ResilienceOptions;
  /** Fleet admission control consulted before every LLM attempt. */
  admission?: Admission;
  /** Isolates tenants: each may have this many LLM/tool calls in flight, and this many queued. */
  tenantBulkhead?: { concurrency: number; queue?: number };
  /**
   * Budgets: `run` (default for runs started without one), `tenants`,
   * `global`; USD and tokens are reserved at worst case before each LLM call
   * and shared by a run's children. None by default.
   */
  budgets?: BudgetsOptions;
  /** What happens to new dead letters, per class. Default: every class is held for a human. */
  deadLetters?: { routes?: Routes };
}

export interface StartOptions {
  /** Starting twice with the same key returns the same run. */
  idempotencyKey?: string;
  tenant?: string;
  /** The run (and its children) must finish within this many ms; no attempt starts after. */
  deadlineMs?: number;
  /** Limits for the run and its children together (default: `budgets.run` of Flotilla.open). */
  budget?: BudgetLimits;
}

/**
 * The runtime: define agents and tools, start runs, and run them durably on
 * the embedded SQLite store (default) or on PostgreSQL shared by many workers.
 */
export class Flotilla implements WorkerHost, InlineWaitsHost {
  readonly payloads = new PayloadWriter();
  readonly resilience: Resilience;
  readonly admission: Admission | undefined;
  readonly staleAnswers = new Map<string, { response: LlmResponse; at: number }>();
  readonly workerId: string;
  readonly clock: Clock;
  readonly inlineSleepMs: number;
  readonly stopGraceMs: number;
  private readonly agents = new Map<string, Agent>();
  private readonly tools = new Map<string, Tool>();
  private readonly providers = new Map<string, LlmProvider>();
  private readonly bulkheads = new Map<string, Bulkhead>();
  private readonly settlement: Settlement;
  private readonly deadLetterRouting: DeadLetterRouting;
  private ownedWorker: Worker | undefined;
  private closed = false;

  private constructor(
    readonly store: Store,
    private readonly ownsStore: boolean,
    private readonly options: FlotillaOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${newToken().slice(0, 6)}`;
    this.inlineSleepMs = options.inlineSleepMs ?? 2_000;
    this.resilience = new Resilience(this.clock, Math.random, options.resilience);
    this.admission = options.admission;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    for (const [name, p] of Object.entries(options.providers ?? {})) this.providers.set(name, p);
    this.settlement = new Settlement(store);
    this.deadLetterRouting = new DeadLetterRouting(
      store,
      options.deadLetters?.routes ?? {},
      this.clock,
      (message, err) => this.warn(message, err),
    );
  }

  static async open(options: FlotillaOptions = {}): Promise<Flotilla> {
    parseOptions(optionsSchema, options, "Flotilla.open");
    const given = options.store;
    const concurrency = (options.worker || {}).concurrency ?? 16;
    const poolSize = options.poolSize ?? Math.min(64, Math.max(10, concurrency + 4));
    const store =
      typeof given === "object" ? given : await openStore(given ?? DEFAULT_STORE, { poolSize });
    return new Flotilla(store, typeof given !== "object", options);
  }

  agent<I, O>(name: string, fn: AgentFn<I, O>, options?: AgentOptions<I>): Agent<I, O> {
    if (this.agents.has(name))
      throw new InvalidArgumentError(`agent '${name}' is already defined`, { agent: name });
    const agent = defineAgent(name, fn, options);
    this.agents.set(name, agent as Agent);
    return agent;
  }

  tool<A, R>(name: string, spec: ToolSpec<A, R>): Tool<A, R> {
    if (this.tools.has(name))
      throw new InvalidArgumentError(`tool '${name}' is already defined`, { tool: name });
    const tool = defineTool(name, spec);
    this.tools.set(name, tool as Tool);
    return tool;
  }

  registerProvider(name: string, provider: LlmProvider): void {
    this.providers.set(name, provider);
  }

  // ---- ExecutionHost / WorkerHost ----------------------------------------

  agentNames(): string[] {
    return [...this.agents.keys()];
  }

  agentByName(name: string): Agent | undefined {
    return this.agents.get(name);
  }

  provider(name?: string): LlmProvider {
    const p =
      name !== undefined
        ? this.providers.get(name)
        : (this.providers.get("default") ??
          (this.providers.size === 1 ? [...this.providers.values()][0] : undefined));
    if (!p) {
      throw new FlotillaError(
        "FLOTILLA_NO_PROVIDER",
        name === undefined
          ? "ctx.llm needs a provider: pass { providers: { default: … } } to Flotilla.open"
          : `no LLM provider named '${name}' is registered`,
      );
    }
    return p;
  }

  settled(runId: string, run?: RunRecord): void {
    this.settlement.settled(runId, run);
  }

  // ---- waits held in memory (InlineWaitsHost) ------------------------------

  readonly inlineWaits = new InlineWaits(this);

  get inlineWaitMs(): number {
    return this.options.inlineWaitMs ?? 5_000;
  }

  get outageWaitMs(): number {
    return this.options.outageWaitMs ?? 3_600_000;
  }

  freeSlots(): number | undefined {
    const w = this.ownedWorker;
    return w && !this.closed ? w.free : undefined;
  }

  settledOrPoll(runId: string, ms: number): Promise<void> {
    return this.settlement.settledOrPoll(runId, ms);
  }

  bulkhead(tool: Tool): Bulkhead | undefined {
    if (!tool.bulkhead) return undefined;
    const key = `tool:${tool.name}`;
    let b = this.bulkheads.get(key);
    if (!b) {
      b = new Bulkhead(key, tool.bulkhead.concurrency, tool.bulkhead.queue ?? 0);
      this.bulkheads.set(key, b);
    }
    return b;
  }

  tenantBulkhead(tenant: string): Bulkhead | undefined {
    const spec = this.options.tenantBulkhead;
    if (!spec) return undefined;
    const key = `tenant:${tenant}`;
    let b = this.bulkheads.get(key);
    if (!b) {
      b = new Bulkhead(key, spec.concurrency, spec.queue ?? 0);
      this.bulkheads.set(key, b);
    }
    return b;
  }

  get budgets(): BudgetsOptions | undefined {
    return this.options.budgets;
  }

  loopThresholds(agent: string): LoopLimits | false {
    const own = this.agents.get(agent)?.loops ?? {};
    return own === false ? false : loopLimits(own);
  }

  /** Routes a new dead letter (hold, redrive, escalate); routing problems are warned, never thrown. */
  deadLettered(entry: NewDeadLetter): void {
    this.deadLetterRouting.route(entry);
  }

  // ---- dead letters --------------------------------------------------------

  listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.store.listDeadLetters(filter);
  }

  async getDeadLetter(id: string): Promise<DeadLetter> {
    const entry = await this.store.getDeadLetter(id);
    if (!entry) throw new NotFoundError("dead letter", id);
    return entry;
  }

  /** Resumes a dead-lettered run from its last checkpoint, optionally patched; no effect repeats. */
  redrive(id: string, options: RedriveOptions = {}): Promise<DeadLetter> {
    return redriveDeadLetter(this.store, id, options, () => this.clock.now());
  }

  /** Redrives the open entries of a class at `perSecond` (default 5). */
  redriveClass(
    cls: DeadLetterClass,
    options: BulkRedriveOptions = {},
  ): Promise<{ redriven: string[]; skipped: { id: string; reason: string }[] }> {
    return redriveClass(this.store, cls, options, this.clock);
  }

  discardDeadLetter(id: string, reason: string, by = "operator"): Promise<DeadLetter> {
    return discardDeadLetter(this.store, id, { by, reason }, () => this.clock.now());
  }

  /** Shares retry budgets and breaker states with the other workers on this store. */
  heartbeat(): Promise<void> {
    return this.resilience.sync(this.store, this.workerId);
  }

  warn(message: string, err: unknown): void {
    process.emitWarning(
      `flotilla: ${message}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }

  // ---- runs -----------------------------------------------------------------

  /** Starts a run (or returns the existing one with the same idempotency key). */
  async start<I, O>(
    agent: Agent<I, O>,
    input: I,
    options: StartOptions = {},
  ): Promise<RunHandle<O>> {
    this.assertOpen();
    if (!isAgent(agent) || this.agents.get(agent.name) !== (agent as Agent)) {
      throw new InvalidArgumentError(
        "start() needs an agent defined on this Flotilla instance with flotilla.agent()",
      );
    }
    if (
      options.deadlineMs !== undefined &&
      !(Number.isFinite(options.deadlineMs) && options.deadlineMs > 0)
    ) {
      throw new InvalidArgumentError(
        `deadlineMs must be a positive number, received ${options.deadlineMs}`,
        {
          field: "deadlineMs",
        },
      );
    }
    if (
      options.idempotencyKey !== undefined &&
      (typeof options.idempotencyKey !== "string" || !options.idempotencyKey)
    ) {
      throw new InvalidArgumentError("idempotencyKey must be a non-empty string", {
        field: "idempotencyKey",
      });
    }
    const limits = this.budgetOf(options.budget);
    const checked = agent.schema ? agent.schema.parse(input) : input;
    const stored = storableCopy(checked, "run input");
    // The worker first: a store that refuses it must not be left holding a run nobody will execute.
    if (this.options.worker !== false) await this.worker(this.options.worker ?? {});
    const id = newRunId();
    const budget: RunBudget | undefined = limits && {
      root: id,
      startedAt: this.clock.now(),
      limits,
    };
    // With a slot free here, the run is created leased to this process's worker and starts at once.
    const slot = this.ownedWorker?.reserve(agent.name);
    let outcome: CreatedRun;
    try {
      outcome = await this.store.createRun(
        {
          id,
          created: {
            root: id,
            lineage: [],
            ...(budget ? { budget: budget as unknown as Json } : {}),
          },
          agent: agent.name,
          input: stored ?? null,
          idempotencyKey: options.idempotencyKey ?? null,
          tenant: options.tenant ?? null,
          deadline: options.deadlineMs === undefined ? null : this.clock.now() + options.deadlineMs,
        },
        slot?.claim,
      );
    } catch (err) {
      slot?.release();
      throw err;
    }
    const { run, created, claimed } = outcome;
    if (claimed) slot?.adopt(claimed);
    else slot?.release();
    if (!created && run.status === "failed" && options.idempotencyKey !== undefined)
      throw new RunKeyFailedError(run.id, options.idempotencyKey);
    return new RunHandle<O>(this, run.id);
  }

  private budgetOf(given: BudgetLimits | undefined): BudgetLimits | undefined {
    if (given === undefined) return this.options.budgets?.run;
    return parseOptions(BudgetLimitsSchema, given, "start budget");
  }

  handle<O = unknown>(runId: string): RunHandle<O> {
    return new RunHandle<O>(this, runId);
  }

  getRun(runId: string): Promise<RunRecord> {
    return this.settlement.getRun(runId);
  }

  /** Starts (once) the in-process worker that executes this instance's agents. */
  async worker(options: WorkerOptions = {}): Promise<Worker> {
    this.assertOpen();
    if (!this.ownedWorker) {
      const w = new Worker(this, options);
      this.ownedWorker = w;
      try {
        await w.start();
      } catch (err) {
        this.ownedWorker = undefined;
        throw err;
      }
    }
    return this.ownedWorker;
  }

  waitForResult<O>(runId: string, timeoutMs?: number): Promise<O> {
    return this.settlement.result<O>(runId, timeoutMs);
  }

  /**
   * Cancels a run: records the request durably, stops its steps and tools, and
   * returns a receipt of what was committed, in flight and never started.
   */
  cancel(runId: string, options: CancelRunOptions = {}): Promise<CancelReceipt> {
    return cancelRun(this.store, this.settlement, runId, {
      ...options,
      timeoutMs: options.timeoutMs ?? this.stopGraceMs + 5_000,
    });
  }

  async signal(runId: string, name: string, payload: Json = null): Promise<void> {
    if (typeof name !== "string" || name === "")
      throw new InvalidArgumentError("signal name must be a non-empty string");
    await this.store.sendSignal(runId, name, storableCopy(payload, "signal payload") ?? null);
    this.inlineWaits.signalled(runId);
  }

  /**
   * Resumes a `failed` run from its journal (after a fix was deployed, or a
   * provider configured): completed steps and effects are not repeated, the
   * failed step runs again under the current code. Journaled with who and why.
   */
  async retry(runId: string, options: RetryOptions = {}): Promise<void> {
    this.assertOpen();
    await retryRun(this.store, runId, options, () => this.clock.now());
    this.settlement.settled(runId);
  }

  /** Decides a parked effect whose outcome was lost; the run then resumes. */
  resolveEffect(
    runId: string,
    step: string,
    decision: EffectDecision,
    by = "operator",
  ): Promise<void> {
    return resolveParkedEffect(this.store, this.settlement, this.clock.now(), {
      runId,
      step,
      decision,
      by,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ownedWorker?.stop();
    await this.deadLetterRouting.drain();
    this.settlement.close();
    if (this.ownsStore) await this.store.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new InvalidArgumentError("this Flotilla instance is closed");
  }
}
