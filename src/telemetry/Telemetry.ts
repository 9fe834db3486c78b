import {
  context,
  ProxyTracer,
  trace,
  type Attributes,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { Json } from "../core/json.js";
import type { JournalIndex } from "../journal/JournalIndex.js";
import { isProviderError } from "../providers/errors.js";
import type { JournalEvent, RunRecord } from "../store/types.js";
import { retryBudgetLeft } from "./metrics/dependencyState.js";
import type { AttemptOutcome } from "../fleet/types.js";
import { FlotillaMetrics, type MetricsSource } from "./metrics/FlotillaMetrics.js";
import type { Redactor } from "./redaction/Redactor.js";
import { FLOTILLA } from "./tracing/attributes.js";
import { ExecutionTrace, type ChatAnswer, type RunTrace } from "./tracing/ExecutionTrace.js";
import { carrierOf } from "./tracing/traceparent.js";

/** What an execution shows telemetry: its run, its journal, its worker. */
export interface TracedExecution {
  readonly run: Pick<RunRecord, "id" | "agent" | "tenant" | "parentId">;
  readonly events: readonly JournalEvent[];
  readonly journal: Pick<JournalIndex, "get">;
  readonly host: { readonly workerId: string };
}

function outcomeOf(err: unknown): AttemptOutcome {
  if (isProviderError(err, "rate_limited") || (err as { status?: unknown } | null)?.status === 429)
    return "rate_limited";
  if (isProviderError(err, "timeout")) return "timeout";
  return "error";
}

/**
 * A Flotilla instance's telemetry: Prometheus metrics in a registry of its
 * own, and OpenTelemetry spans through `@opentelemetry/api` (a no-op until
 * the application registers an SDK, or passes `tracerProvider`). The
 * runtime reaches it through its host at a few points: an execution's
 * start (`execution`), each upstream attempt (`countAttempt`).
 */
export class Telemetry {
  readonly metrics: FlotillaMetrics;
  readonly tracer: Tracer;
  /** The provider `tracer` came from, asked whether an SDK has been registered behind it since. */
  private readonly provider: TracerProvider;
  /** Once spans record they always do: a proxy tracer keeps the delegate it found. */
  private recording = false;

  constructor(
    private readonly source: MetricsSource,
    /** Applied to what spans say about errors. */
    readonly redactor: Redactor,
    tracerProvider?: TracerProvider,
  ) {
    this.metrics = new FlotillaMetrics(source);
    this.provider = tracerProvider ?? trace.getTracerProvider();
    this.tracer = this.provider.getTracer("flotilla");
  }

  /**
   * False while `tracer` is the API's proxy with no SDK behind it: every span
   * it starts is a non-recording copy of its parent's context, so a step's
   * span work can be skipped (the hot path of a read step pays for none).
   * Asked at each call, as the proxy asks: an SDK registered later is used.
   */
  get tracing(): boolean {
    if (this.recording) return true;
    const proxy = this.tracer instanceof ProxyTracer && "getDelegateTracer" in this.provider;
    this.recording =
      !proxy ||
      (
        this.provider as { getDelegateTracer: (name: string) => Tracer | undefined }
      ).getDelegateTracer("flotilla") !== undefined;
    return this.recording;
  }

  /** Starts the `invoke_agent` span of an execution whose journal (its `run.resumed` included) is loaded. */
  execution(exec: TracedExecution): RunTrace {
    return new ExecutionTrace(this, exec);
  }

  /**
   * Facts a run started here journals at creation: the caller's active trace
   * context, so its executions (on any worker) join the caller's trace.
   */
  startFacts(): Record<string, Json> {
    const carrier = carrierOf(trace.getSpan(context.active())?.spanContext());
    return carrier ? { ...carrier } : {};
  }

  /** Counts one upstream attempt by how it ended; the call's own promise, untouched, is returned. */
  attempt<T>(dependency: string, call: Promise<T>): Promise<T> {
    return call.then(
      (value) => {
        this.metrics.requestCounts.inc(dependency, "ok");
        return value;
      },
      (err: unknown) => {
        const outcome = outcomeOf(err);
        this.metrics.requestCounts.inc(dependency, outcome);
        if (outcome === "rate_limited") this.metrics.rateLimited.inc({ dependency });
        throw err;
      },
    );
  }

  /** Tokens and cost of one answer. */
  costs(answer: ChatAnswer, tenant: string): void {
    const model = answer.model;
    this.metrics.tokens.inc({ model, tenant, type: "input" }, answer.usage.inputTokens);
    this.metrics.tokens.inc({ model, tenant, type: "output" }, answer.usage.outputTokens);
    if (answer.costUsd !== undefined) this.metrics.cost.inc({ model, tenant }, answer.costUsd);
  }

  /** A dependency's breaker state and retry budget, for a span; nothing for one never called. */
  dependencyAttributes(name: string): Attributes {
    if (!this.source.resilience.has(name)) return {};
    const d = this.source.resilience.dependency(name);
    return {
      [FLOTILLA.dependency]: name,
      [FLOTILLA.breakerState]: d.breakerState,
      [FLOTILLA.budgetLeft]: retryBudgetLeft(d),
    };
  }
}

/** `call`, counted as an attempt on `dependency` when the host has telemetry. */
export function countAttempt<T>(
  telemetry: Telemetry | undefined,
  dependency: string,
  call: Promise<T>,
): Promise<T> {
  return telemetry ? telemetry.attempt(dependency, call) : call;
}
