/**
 * Span attribute names: the OpenTelemetry GenAI semantic conventions
 * (development status, as of semconv 1.37+: `gen_ai.provider.name` replaced
 * `gen_ai.system`), then Flotilla's own reliability attributes.
 */
export const GEN_AI = {
  operation: "gen_ai.operation.name",
  provider: "gen_ai.provider.name",
  agentName: "gen_ai.agent.name",
  agentId: "gen_ai.agent.id",
  conversation: "gen_ai.conversation.id",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  responseModel: "gen_ai.response.model",
  responseId: "gen_ai.response.id",
  finishReasons: "gen_ai.response.finish_reasons",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  cachedInputTokens: "gen_ai.usage.cache_read.input_tokens",
  toolName: "gen_ai.tool.name",
  toolType: "gen_ai.tool.type",
  toolDescription: "gen_ai.tool.description",
  toolCallId: "gen_ai.tool.call.id",
  errorType: "error.type",
} as const;

export const FLOTILLA = {
  runId: "flotilla.run.id",
  parentRunId: "flotilla.run.parent_id",
  tenant: "flotilla.tenant",
  execution: "flotilla.run.execution",
  outcome: "flotilla.run.outcome",
  worker: "flotilla.worker.id",
  step: "flotilla.step",
  effect: "flotilla.effect",
  effectState: "flotilla.effect.state",
  dedupeHit: "flotilla.dedupe.hit",
  attempts: "flotilla.attempts",
  samples: "flotilla.samples",
  degraded: "flotilla.degraded",
  source: "flotilla.provenance.source",
  costUsd: "flotilla.cost.usd",
  dependency: "flotilla.dependency",
  breakerState: "flotilla.breaker.state",
  budgetLeft: "flotilla.retry_budget.remaining",
} as const;
