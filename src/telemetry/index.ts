export { Telemetry } from "./Telemetry.js";
export { FlotillaMetrics } from "./metrics/FlotillaMetrics.js";
export type { MetricsSource } from "./metrics/FlotillaMetrics.js";
export { Redactor, redacted } from "./redaction/Redactor.js";
export type { PayloadPath, RedactOptions } from "./redaction/options.js";
export { DEFAULT_PATTERNS, luhn } from "./redaction/patterns.js";
export type { SecretPattern } from "./redaction/patterns.js";
export {
  FLOTILLA as FLOTILLA_SPAN_ATTRIBUTES,
  GEN_AI as GEN_AI_SPAN_ATTRIBUTES,
} from "./tracing/attributes.js";
export { activeTraceMeta, carrierOf, contextOf } from "./tracing/traceparent.js";
export type { TraceCarrier } from "./tracing/traceparent.js";
