import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from "@opentelemetry/api";
import type { SerializedError } from "../../core/errors.js";
import type { Json } from "../../core/json.js";
import type { EffectKind } from "../../effects/Tool.js";
import type { StepRecord } from "../../journal/JournalIndex.js";
import type { NewEvent, StatusChange } from "../../store/types.js";
import type { Telemetry, TracedExecution } from "../Telemetry.js";
import { FLOTILLA, GEN_AI } from "./attributes.js";
import { carrierOf, contextOf } from "./traceparent.js";

/** One `ctx.llm` call as a chat span sees it. */
export interface ChatCall {
  provider: string;
  model: string;
  step: string;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
}

/** What a chat span and the cost metrics read from an answer. */
export interface ChatAnswer {
  model: string;
  finishReason: string;
  usage: { inputTokens: number; outputTokens: number; cachedInputTokens?: number | undefined };
  costUsd?: number | undefined;
  requestId?: string | undefined;
  attempts: number;
  samples: number;
  provenance: { degraded: boolean; source: string };
}

/** A tool as an execute_tool span names it. */
export interface TracedTool {
  name: string;
  effect: EffectKind;
  description?: string | undefined;
}

/**
 * What the runtime tells telemetry about one execution of a run: its steps
 * starting and ending, its LLM and tool calls, its end. One line at each
 * point of the runtime; `NO_TRACE` when the host has no telemetry.
 */
export interface RunTrace {
  /** Runs agent code inside the execution's span, so spans the code starts nest under it. */
  run<T>(fn: () => T): T;
  /** Facts a child run journals at creation so its executions, on any worker, continue this trace. */
  childFacts(): Record<string, Json>;
  stepEntered(step: string, rec: StepRecord | undefined): void;
  /** Events just journaled; the outcomes among them end their steps' latency. */
  stepsWritten(events: readonly NewEvent[]): void;
  chat<T extends ChatAnswer>(call: ChatCall, fn: () => Promise<T>): Promise<T>;
  tool<T>(tool: TracedTool, step: string, fn: () => Promise<T>): Promise<T>;
  /** The execution ended (`settled`: the status its last commit gave the run, if it settled it). */
  end(outcome: string, settled: StatusChange | undefined): void;
}

export const NO_TRACE: RunTrace = {
  run: (fn) => fn(),
  childFacts: () => ({}),
  stepEntered: () => undefined,
  stepsWritten: () => undefined,
  chat: (_call, fn) => fn(),
  tool: (_tool, _step, fn) => fn(),
  end: () => undefined,
};

/** Events that end a step, and the outcome label they give it. */
const STEP_ENDS: Record<string, string> = {
  "step.completed": "ok",
  "effect.committed": "ok",
  "step.failed": "error",
  "effect.failed": "error",
  "effect.unknown": "unknown",
  "effect.revoked": "revoked",
};

const ERROR_OUTCOMES = new Set(["failed", "dead-lettered"]);

function dataOf(data: Json | undefined): Record<string, Json> {
  return data !== null && typeof data === "object" && !Array.isArray(data) ? data : {};
}

/** How a tool call ended, from the journal once it settled (effects) or from the call (reads). */
function toolOutcome(tool: TracedTool, rec: StepRecord | undefined, ok: boolean): string {
  if (tool.effect === "read") return ok ? "ok" : "error";
  if (rec?.revoked) return "revoked";
  if (rec?.unknown) return "unknown";
  if (rec?.outcome?.ok) return rec.meta.dedupedFrom ? "deduped" : "committed";
  if (rec?.outcome) return "failed";
  // Neither settled nor refused: the execution gave up (a stop, a lost lease, a store fault).
  return ok ? "committed" : "interrupted";
}

/** The `invoke_agent` span of one execution, and the chat and tool spans under it. */
export class ExecutionTrace implements RunTrace {
  private readonly span: Span;
  private readonly ctx: Context;
  private readonly started = new Map<string, number>();
  private readonly tenant: string;
  /** The root run's id: a run tree is one conversation. */
  private readonly root: string;
  private ended = false;

  constructor(
    private readonly t: Telemetry,
    private readonly exec: TracedExecution,
  ) {
    const run = exec.run;
    const created = dataOf(exec.events.find((e) => e.type === "run.created")?.data);
    // The parent's span (journaled by whichever worker created the run), or the caller's at start().
    const parent = contextOf(created.traceparent, created.tracestate);
    const executions = exec.events.filter((e) => e.type === "run.resumed").length;
    this.tenant = run.tenant ?? "default";
    this.root = typeof created.root === "string" ? created.root : run.id;
    this.span = t.tracer.startSpan(
      `invoke_agent ${run.agent}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [GEN_AI.operation]: "invoke_agent",
          [GEN_AI.agentName]: run.agent,
          [GEN_AI.conversation]: this.root,
          [FLOTILLA.runId]: run.id,
          ...(run.parentId ? { [FLOTILLA.parentRunId]: run.parentId } : {}),
          ...(run.tenant !== null ? { [FLOTILLA.tenant]: run.tenant } : {}),
          [FLOTILLA.execution]: executions,
          [FLOTILLA.worker]: exec.host.workerId,
        },
      },
      parent,
    );
    this.ctx = trace.setSpan(parent, this.span);
  }

  run<T>(fn: () => T): T {
    return context.with(this.ctx, fn);
  }

  childFacts(): Record<string, Json> {
    const carrier = carrierOf(this.span.spanContext());
    return carrier ? { ...carrier } : {};
  }

  stepEntered(step: string, rec: StepRecord | undefined): void {
    if (!rec?.outcome && !this.started.has(step)) this.started.set(step, performance.now());
  }

  stepsWritten(events: readonly NewEvent[]): void {
    for (const e of events) {
      const outcome = STEP_ENDS[e.type];
      const began = e.step ? this.started.get(e.step) : undefined;
      if (outcome === undefined || began === undefined) continue;
      this.started.delete(e.step as string);
      const kind = dataOf(e.data).kind;
      this.t.metrics.steps.observe(
        { kind: typeof kind === "string" ? kind : "unknown", outcome },
        (performance.now() - began) / 1000,
      );
    }
  }

  async chat<T extends ChatAnswer>(call: ChatCall, fn: () => Promise<T>): Promise<T> {
    const span = this.t.tracer.startSpan(
      `chat ${call.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [GEN_AI.operation]: "chat",
          [GEN_AI.provider]: call.provider,
          [GEN_AI.requestModel]: call.model,
          ...(call.maxTokens !== undefined ? { [GEN_AI.requestMaxTokens]: call.maxTokens } : {}),
          ...(call.temperature !== undefined
            ? { [GEN_AI.requestTemperature]: call.temperature }
            : {}),
          [GEN_AI.conversation]: this.root,
          [FLOTILLA.runId]: this.exec.run.id,
          [FLOTILLA.step]: call.step,
        },
      },
      this.ctx,
    );
    const dependency = `${call.provider}:${call.model}`;
    try {
      const answer = await context.with(trace.setSpan(this.ctx, span), fn);
      span.setAttributes(this.answerAttributes(answer));
      this.t.costs(answer, this.tenant);
      return answer;
    } catch (err) {
      this.failed(span, err);
      throw err;
    } finally {
      span.setAttributes(this.t.dependencyAttributes(dependency));
      span.end();
    }
  }

  tool<T>(tool: TracedTool, step: string, fn: () => Promise<T>): Promise<T> {
    return this.t.tracing ? this.tracedTool(tool, step, fn) : this.untracedTool(tool, step, fn);
  }

  private async tracedTool<T>(tool: TracedTool, step: string, fn: () => Promise<T>): Promise<T> {
    const span = this.t.tracer.startSpan(
      `execute_tool ${tool.name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [GEN_AI.operation]: "execute_tool",
          [GEN_AI.toolName]: tool.name,
          [GEN_AI.toolType]: "function",
          [GEN_AI.toolCallId]: `${this.exec.run.id}:${step}`,
          ...(tool.description !== undefined ? { [GEN_AI.toolDescription]: tool.description } : {}),
          [GEN_AI.conversation]: this.root,
          [FLOTILLA.runId]: this.exec.run.id,
          [FLOTILLA.step]: step,
          [FLOTILLA.effect]: tool.effect,
        },
      },
      this.ctx,
    );
    let ok = false;
    try {
      const value = await context.with(trace.setSpan(this.ctx, span), fn);
      ok = true;
      return value;
    } catch (err) {
      this.failed(span, err);
      throw err;
    } finally {
      const rec = this.exec.journal.get(step);
      const outcome = toolOutcome(tool, rec, ok);
      span.setAttributes({
        [FLOTILLA.effectState]: outcome,
        [FLOTILLA.dedupeHit]: outcome === "deduped",
        ...(rec?.intent ? { [FLOTILLA.attempts]: rec.attempts } : {}),
        ...this.t.dependencyAttributes(`tool:${tool.name}`),
      });
      this.t.metrics.toolCallCounts.inc(tool.name, outcome);
      span.end();
    }
  }

  /**
   * `tool` with no SDK behind the tracer: its span would be a non-recording
   * copy of the execution's span context, so `fn` runs under that context
   * and only the tool-call metric is kept.
   */
  private async untracedTool<T>(tool: TracedTool, step: string, fn: () => Promise<T>): Promise<T> {
    let ok = false;
    try {
      const value = await context.with(this.ctx, fn);
      ok = true;
      return value;
    } finally {
      const outcome = toolOutcome(tool, this.exec.journal.get(step), ok);
      this.t.metrics.toolCallCounts.inc(tool.name, outcome);
    }
  }

  end(outcome: string, settled: StatusChange | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.started.clear();
    this.span.setAttribute(FLOTILLA.outcome, outcome);
    if (ERROR_OUTCOMES.has(outcome)) this.failed(this.span, settled?.error ?? { message: outcome });
    this.span.end();
    this.t.metrics.executions.inc({ agent: this.exec.run.agent, outcome });
  }

  private answerAttributes(a: ChatAnswer): Attributes {
    return {
      [GEN_AI.responseModel]: a.model,
      [GEN_AI.finishReasons]: [a.finishReason],
      ...(a.requestId !== undefined ? { [GEN_AI.responseId]: a.requestId } : {}),
      [GEN_AI.inputTokens]: a.usage.inputTokens,
      [GEN_AI.outputTokens]: a.usage.outputTokens,
      ...(a.usage.cachedInputTokens !== undefined
        ? { [GEN_AI.cachedInputTokens]: a.usage.cachedInputTokens }
        : {}),
      ...(a.costUsd !== undefined ? { [FLOTILLA.costUsd]: a.costUsd } : {}),
      [FLOTILLA.attempts]: a.attempts,
      [FLOTILLA.samples]: a.samples,
      [FLOTILLA.degraded]: a.provenance.degraded,
      [FLOTILLA.source]: a.provenance.source,
    };
  }

  /** Marks a span failed with the error's type and its message, redacted (messages quote inputs). */
  private failed(span: Span, err: unknown): void {
    const e = (typeof err === "object" && err !== null ? err : { message: String(err) }) as Partial<
      SerializedError & { code: string }
    >;
    const message = this.t.redactor.text(String(e.message ?? ""));
    const type = e.code ?? e.name ?? "Error";
    span.setAttribute(GEN_AI.errorType, type);
    span.recordException({ name: type, message });
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
}
