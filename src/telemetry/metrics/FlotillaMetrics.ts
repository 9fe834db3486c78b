import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { FleetSnapshot } from "../../fleet/scheduler.js";
import type { Admission } from "../../fleet/types.js";
import type { Resilience } from "../../resilience/Resilience.js";
import { RUN_STATUSES, type Store, type StoreCounts } from "../../store/types.js";
import { retryBudgetLeft } from "./dependencyState.js";
import { PairCounts } from "./PairCounts.js";

/** Where the gauges read from at scrape time. */
export interface MetricsSource {
  readonly store: Pick<Store, "counts">;
  readonly resilience: Resilience;
  readonly admission: Admission | undefined;
}

const BREAKER_STATES = ["closed", "open", "half-open"] as const;
/**
 * Store counts are read once per scrape, however many gauges show them
 * (`text()` starts each scrape afresh; this bounds a scrape made otherwise).
 */
const COUNTS_TTL_MS = 100;

/**
 * Prometheus metrics of one Flotilla instance, in a registry of its own
 * (never the global one, so two instances in a process do not collide).
 * Counters and histograms count what this process did; gauges of runs and
 * dead letters are read from the store at scrape time, so they are the
 * same on every worker sharing it.
 */
export class FlotillaMetrics {
  readonly registry = new Registry();
  private countsRead: { at: number; counts: Promise<StoreCounts> } | undefined;

  readonly steps = new Histogram({
    name: "flotilla_step_duration_seconds",
    help: "Time from a new step's start to its journaled outcome, by step kind and outcome",
    labelNames: ["kind", "outcome"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  /** Counts for `requests`, added to it at each scrape (see PairCounts). */
  readonly requestCounts = new PairCounts("dependency", "outcome");
  readonly requests: Counter<"dependency" | "outcome"> = new Counter({
    name: "flotilla_dependency_requests_total",
    help: "Upstream attempts (LLM requests, tool calls, retries included) by dependency and outcome",
    labelNames: ["dependency", "outcome"] as const,
    registers: [this.registry],
    collect: (): void => this.requestCounts.addTo(this.requests),
  });
  readonly rateLimited = new Counter({
    name: "flotilla_dependency_rate_limited_total",
    help: "Upstream attempts the dependency answered with 429 (rate limited), by dependency",
    labelNames: ["dependency"] as const,
    registers: [this.registry],
  });
  /** Counts for `toolCalls`, added to it at each scrape (see PairCounts). */
  readonly toolCallCounts = new PairCounts("tool", "outcome");
  readonly toolCalls: Counter<"tool" | "outcome"> = new Counter({
    name: "flotilla_tool_calls_total",
    help: "Tool calls by tool and outcome (committed, deduped, failed, unknown, revoked; ok or error for reads)",
    labelNames: ["tool", "outcome"] as const,
    registers: [this.registry],
    collect: (): void => this.toolCallCounts.addTo(this.toolCalls),
  });
  readonly tokens = new Counter({
    name: "flotilla_llm_tokens_total",
    help: "LLM tokens by model, tenant and type (input, output)",
    labelNames: ["model", "tenant", "type"] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: "flotilla_llm_cost_usd_total",
    help: "LLM cost in US dollars as the providers' prices give it, by model and tenant",
    labelNames: ["model", "tenant"] as const,
    registers: [this.registry],
  });
  readonly executions = new Counter({
    name: "flotilla_executions_total",
    help: "Executions of runs by this process, by agent and how they ended",
    labelNames: ["agent", "outcome"] as const,
    registers: [this.registry],
  });

  constructor(source: MetricsSource) {
    const counts = () => this.counts(source.store);
    new Gauge({
      name: "flotilla_store_up",
      help: "1 when this scrape could read the store's counts, else 0",
      registers: [this.registry],
      async collect() {
        this.set(
          await counts().then(
            () => 1,
            () => 0,
          ),
        );
      },
    });
    new Gauge({
      name: "flotilla_runs",
      help: "Runs in the store by status",
      labelNames: ["status"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const c = await counts().catch(() => undefined);
        if (!c) return;
        for (const s of RUN_STATUSES) this.set({ status: s }, 0);
        for (const r of c.runs) this.set({ status: r.status }, r.count);
      },
    });
    new Gauge({
      name: "flotilla_dead_letters",
      help: "Dead letters in the store by class and status (open, redriven, discarded)",
      labelNames: ["class", "status"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const c = await counts().catch(() => undefined);
        for (const d of c?.deadLetters ?? [])
          this.set({ class: d.class, status: d.status }, d.count);
      },
    });
    this.dependencyGauges(source.resilience);
    this.admissionGauges(source.admission);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    this.countsRead = undefined;
    return this.registry.metrics();
  }

  /** The Content-Type of `text()` for an HTTP response. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private counts(store: Pick<Store, "counts">): Promise<StoreCounts> {
    const now = Date.now();
    if (!this.countsRead || now - this.countsRead.at > COUNTS_TTL_MS)
      this.countsRead = { at: now, counts: store.counts() };
    return this.countsRead.counts;
  }

  private dependencyGauges(resilience: Resilience): void {
    const each = (fn: (name: string) => void) => {
      for (const name of Object.keys(resilience.metrics())) fn(name);
    };
    new Gauge({
      name: "flotilla_breaker_state",
      help: "1 for the circuit breaker's current state of each dependency, 0 for the others",
      labelNames: ["dependency", "state"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        each((name) => {
          const current = resilience.dependency(name).breakerState;
          for (const s of BREAKER_STATES)
            this.set({ dependency: name, state: s }, +(s === current));
        });
      },
    });
    new Gauge({
      name: "flotilla_retry_budget_remaining",
      help: "Retries this worker may still make to each dependency in the retry budget's window",
      labelNames: ["dependency"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        each((name) =>
          this.set({ dependency: name }, retryBudgetLeft(resilience.dependency(name))),
        );
      },
    });
    new Counter({
      name: "flotilla_retries_total",
      help: "Retries the retry owner made to each dependency",
      labelNames: ["dependency"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [name, m] of Object.entries(resilience.metrics()))
          this.inc({ dependency: name }, m.retries);
      },
    });
  }

  private admissionGauges(admission: Admission | undefined): void {
    // The fleet scheduler says how deep its queues are; another Admission may not.
    const snapshot = (admission as { snapshot?: () => FleetSnapshot } | undefined)?.snapshot;
    if (typeof snapshot !== "function") return;
    const lanes = () => snapshot.call(admission).dependencies;
    const gauge = (
      name: string,
      help: string,
      read: (d: FleetSnapshot["dependencies"][0]) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ["dependency"] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const d of lanes()) this.set({ dependency: d.dependency }, read(d));
        },
      });
    gauge(
      "flotilla_admission_queue_depth",
      "Calls waiting for admission, by dependency",
      (d) => d.queueDepth,
    );
    gauge(
      "flotilla_admission_in_flight",
      "Admitted calls in flight, by dependency",
      (d) => d.inFlight,
    );
    gauge(
      "flotilla_admission_concurrency_limit",
      "The adaptive concurrency limit (AIMD), by dependency",
      (d) => d.concurrencyLimit,
    );
  }
}
