import { z } from "zod";
import { hostname } from "node:os";
import { systemClock, type Clock } from "../core/clock.js";
import { InvalidArgumentError, NotFoundError } from "../core/errors.js";
import { newToken } from "../core/ids.js";
import type { Json } from "../core/json.js";
import { storableCopy } from "../core/payload.js";
import { parseOptions } from "../core/validate.js";
import {
  BudgetLimitsSchema,
  type BudgetLimits,
  type BudgetsOptions,
} from "../deadletter/budgets.js";
import { loopLimits, type LoopLimits } from "../deadletter/loops.js";
import {
  discardDeadLetter,
  redriveClass,
  redriveDeadLetter,
  type BulkRedriveOptions,
  type RedriveOptions,
} from "../deadletter/redrive.js";
import { DeadLetterRouting } from "../deadletter/routing.js";
import type { DeadLetterClass } from "../deadletter/taxonomy.js";
import type { DeadLetter, DeadLetterFilter, NewDeadLetter } from "../deadletter/types.js";
import { resolveEffect as resolveParkedEffect, type EffectDecision } from "../effects/resolve.js";
import { defineTool, type Tool, type ToolSpec } from "../effects/Tool.js";
import type { Admission } from "../fleet/types.js";
import { PayloadWriter } from "../journal/payloads.js";
import { ProviderRegistry } from "../providers/registry.js";
import type { LlmProvider, LlmResponse } from "../providers/types.js";
import type { Bulkhead } from "../resilience/Bulkhead.js";
import { Bulkheads } from "../resilience/bulkheads.js";
import { Resilience } from "../resilience/Resilience.js";
import { cancelThenUndo, type CancelHost, type CancelRunOptions } from "../saga/cancelRun.js";
import type { CancelReceipt } from "../saga/receipt.js";
import { undoPlan, undoRun, type UndoOptions, type UndoRunner } from "../saga/undo.js";
import { undoAgent, type UndoHost } from "../saga/undoAgent.js";
import { UNDO_AGENT } from "../saga/undoPlan.js";
import type { UndoPlan, UndoReport } from "../saga/undoTypes.js";
import type { SqlToolOptions } from "../sql/options.js";
import { rollbackRun, type RollbackOptions } from "../sql/rollbackRun.js";
import type { RollbackReport } from "../sql/rollbackTypes.js";
import { defineSqlTool, type SqlTool } from "../sql/SqlTool.js";
import { DEFAULT_STORE, openStore } from "../store/open.js";
import { Redactor } from "../telemetry/redaction/Redactor.js";
import { Telemetry } from "../telemetry/Telemetry.js";
import type { RunRecord, Store } from "../store/types.js";
import { defineAgent, isAgent, type Agent, type AgentFn, type AgentOptions } from "./Agent.js";
import { retryRun, type RetryOptions } from "./retryRun.js";
import { RunHandle } from "./RunHandle.js";
import { InlineWaits, type InlineWaitsHost } from "./inlineWait.js";
import { Settlement } from "./Settlement.js";
import { createRun } from "./createRun.js";
import { OwnedWorker } from "./ownedWorker.js";
import type { LocalSlot, Worker, WorkerHost } from "./Worker.js";
import type { WorkerOptions } from "./workerOptions.js";

import {
  checkRunId,
  checkSignalName,
  optionsSchema,
  parseAgentInput,
  parseCancelOptions,
  parseResolveRequest,
  parseRetryOptions,
  parseStartOptions,
  type FlotillaOptions,
  type StartOptions,
} from "./options.js";

export type { FlotillaOptions, StartOptions };

const undoInputSchema = z.strictObject({ runId: z.string().min(1) });

/**
 * The runtime: define agents and tools, start runs, and run them durably on
 * the embedded SQLite store (default) or on PostgreSQL shared by many workers.
 */
export class Flotilla implements WorkerHost, InlineWaitsHost, UndoHost, UndoRunner, CancelHost {
  readonly payloads: PayloadWriter;
  readonly redactor: Redactor;
  readonly telemetry: Telemetry;
  readonly resilience: Resilience;
  readonly admission: Admission | undefined;
  readonly staleAnswers = new Map<string, { response: LlmResponse; at: number }>();
  readonly workerId: string;
  readonly clock: Clock;
  readonly inlineSleepMs: number;
  readonly stopGraceMs: number;
  private readonly agents = new Map<string, Agent>();
  private readonly tools = new Map<string, Tool>();
  private readonly providers: ProviderRegistry;
  private readonly bulkheads: Bulkheads;
  private readonly settlement: Settlement;
  private readonly deadLetterRouting: DeadLetterRouting;
  private readonly ownedWorker: OwnedWorker;
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
    this.redactor = new Redactor(options.redact, (message, err) => this.warn(message, err));
    this.payloads = new PayloadWriter(this.redactor);
    this.telemetry = new Telemetry(this, this.redactor, options.tracerProvider);
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.providers = new ProviderRegistry(options.providers);
    this.bulkheads = new Bulkheads(options.tenantBulkhead);
    this.ownedWorker = new OwnedWorker(this, options.worker || {});
    this.settlement = new Settlement(store, (id) => this.ownedWorker.current?.holds(id) === true);
    this.deadLetterRouting = new DeadLetterRouting(
      store,
      options.deadLetters?.routes ?? {},
      this.clock,
      (message, err) => this.warn(message, err),
    );
    this.agents.set(
      UNDO_AGENT,
      // Flotilla's own code: a declared version, so an upgrade does not strand undo runs.
      defineAgent(UNDO_AGENT, undoAgent(this), { schema: undoInputSchema, version: "1" }) as Agent,
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

  /**
   * A guarded SQL tool on a PostgreSQL or SQLite database: statements are
   * classified by a parser, destructive ones wait for `approve-sql`, writes
   * are attributed to their run and step and reversible (see sql/SqlTool).
   */
  sqlTool(name: string, options: SqlToolOptions): SqlTool {
    return defineSqlTool(this, name, options);
  }

  /**
   * Rolls back the rows a run and its children wrote through SQL tools,
   * latest first; rows changed since by anyone else are reported with both
   * versions, never overwritten. Idempotent; `{ plan: true }` changes nothing.
   */
  rollback(runId: string, options: RollbackOptions = {}): Promise<RollbackReport> {
    return rollbackRun(this, runId, options);
  }

  toolByName(name: string): Tool | undefined {
    return this.tools.get(name);
  }

  /**
   * Adds an LLM provider under a name (`default` is the one ctx.llm uses
   * when none is named); a worker module's setup(flotilla) registers its own.
   */
  registerProvider(name: string, provider: LlmProvider): void {
    this.providers.register(name, provider);
  }

  // ---- ExecutionHost / WorkerHost ----------------------------------------

  agentNames(): string[] {
    return [...this.agents.keys()];
  }

  agentByName(name: string): Agent | undefined {
    return this.agents.get(name);
  }

  provider(name?: string): LlmProvider {
    return this.providers.get(name);
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
    const w = this.ownedWorker.current;
    return w && !this.closed ? w.free : undefined;
  }

  settledOrPoll(runId: string, ms: number): Promise<void> {
    return this.settlement.settledOrPoll(runId, ms);
  }

  bulkhead(tool: Tool): Bulkhead | undefined {
    return this.bulkheads.forTool(tool);
  }

  tenantBulkhead(tenant: string): Bulkhead | undefined {
    return this.bulkheads.forTenant(tenant);
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

  /**
   * This instance's Prometheus metrics as text (exposition format 0.0.4,
   * `flotilla_` series; Content-Type: `telemetry.metrics.contentType`):
   * runs by status and dead letters by class read from the store, step
   * latency, dependency requests and 429s, tool calls, tokens and cost,
   * breaker states, retry budgets, admission queues of this process.
   */
  metrics(): Promise<string> {
    return this.telemetry.metrics.text();
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

  reserveSlot(agent: string): LocalSlot | undefined {
    return this.ownedWorker.current?.reserve(agent);
  }

  /** Starts a run (or returns the existing one with the same idempotency key). */
  async start<I, O>(agent: Agent<I, O>, input: I, options?: StartOptions): Promise<RunHandle<O>> {
    this.assertOpen();
    if (!isAgent(agent) || this.agents.get(agent.name) !== (agent as Agent)) {
      throw new InvalidArgumentError(
        "start() needs an agent defined on this Flotilla instance with flotilla.agent()",
      );
    }
    options = parseStartOptions(options);
    const limits = this.budgetOf(options.budget);
    const checked = agent.schema ? parseAgentInput<I>(agent.name, agent.schema, input) : input;
    const stored = this.redactor.value(storableCopy(checked, "run input"));
    // The worker first (awaited once): a store refusing it must not hold a run nobody executes.
    if (this.options.worker !== false) await this.worker();
    const run = await createRun(this, agent.name, stored ?? null, options, limits);
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

  /**
   * Starts (once) the in-process worker that executes this instance's
   * agents, with the worker options given to `Flotilla.open` and those given
   * here over them. Calls while it starts share that start; a failed start
   * can be tried again.
   */
  worker(options?: WorkerOptions): Promise<Worker> {
    this.assertOpen();
    return this.ownedWorker.start(options);
  }

  waitForResult<O>(runId: string, timeoutMs?: number): Promise<O> {
    return this.settlement.result<O>(runId, timeoutMs);
  }

  /**
   * Cancels a run: records the request durably, stops its steps and tools, and
   * returns a receipt of what was committed, in flight and never started;
   * with `compensate: true`, then undoes what was committed (`receipt.undo`).
   */
  async cancel(runId: string, options: CancelRunOptions = {}): Promise<CancelReceipt> {
    checkRunId("cancel", runId);
    return cancelThenUndo(this, this.settlement, runId, parseCancelOptions(options));
  }

  /**
   * Undoes a run and its children: calls the inverse of every committed
   * effect, latest first, each an effect of its own, in a durable undo run
   * performed by the workers that define the tools. Resolves with the
   * report, one honest outcome per effect; `complete` is false when an
   * effect was left in the world (the undo run is then dead-lettered as
   * `compensation-failed`, and undoing again retries what failed).
   */
  undo(runId: string, options: UndoOptions = {}): Promise<UndoReport> {
    this.assertOpen();
    return undoRun(this, runId, options);
  }

  /** What `undo` would do about each effect, in which order; nothing is run. */
  undoPlan(runId: string): Promise<UndoPlan> {
    return undoPlan(this.store, runId);
  }

  async signal(runId: string, name: string, payload: Json = null): Promise<void> {
    checkRunId("signal", runId);
    checkSignalName("signal", name);
    const stored = this.redactor.value(storableCopy(payload, "signal payload"));
    await this.store.sendSignal(runId, name, stored ?? null);
    this.inlineWaits.signalled(runId);
  }

  /**
   * Resumes a `failed` run from its journal (after a fix was deployed, or a
   * provider configured): completed steps and effects are not repeated, the
   * failed step runs again under the current code. Journaled with who and why.
   */
  async retry(runId: string, options: RetryOptions = {}): Promise<void> {
    this.assertOpen();
    const given = parseRetryOptions(options);
    await retryRun(this.store, checkRunId("retry", runId), given, () => this.clock.now());
    this.settlement.settled(runId);
  }

  /** Decides a parked effect whose outcome was lost; the run then resumes. */
  async resolveEffect(
    runId: string,
    step: string,
    decision: EffectDecision,
    by = "operator",
  ): Promise<void> {
    const request = parseResolveRequest({ runId, step, decision, by });
    await resolveParkedEffect(this.store, this.settlement, this.clock.now(), request);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ownedWorker.stop();
    await this.deadLetterRouting.drain();
    this.settlement.close();
    if (this.ownsStore) await this.store.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new InvalidArgumentError("this Flotilla instance is closed");
  }
}
