import {
  context,
  createTraceState,
  isSpanContextValid,
  propagation,
  trace,
  ROOT_CONTEXT,
  type Context,
  type SpanContext,
} from "@opentelemetry/api";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Trace context as W3C Trace Context carries it, for journals and MCP `_meta`. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/** A span context as W3C headers; undefined when it is not a valid, recorded-or-not span. */
export function carrierOf(sc: SpanContext | undefined): TraceCarrier | undefined {
  if (!sc || !isSpanContextValid(sc)) return undefined;
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, "0");
  const state = sc.traceState?.serialize();
  return {
    traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}`,
    ...(state ? { tracestate: state } : {}),
  };
}

/** The context a remote parent (journaled by another worker) continues; ROOT_CONTEXT when none. */
export function contextOf(traceparent: unknown, tracestate?: unknown): Context {
  const m = typeof traceparent === "string" ? TRACEPARENT.exec(traceparent) : null;
  if (!m) return ROOT_CONTEXT;
  const sc: SpanContext = {
    traceId: m[1] as string,
    spanId: m[2] as string,
    traceFlags: parseInt(m[3] as string, 16),
    isRemote: true,
    ...(typeof tracestate === "string" && tracestate !== ""
      ? { traceState: createTraceState(tracestate) }
      : {}),
  };
  return isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/**
 * The caller's trace context for an outgoing request's metadata (MCP's
 * `_meta`): what the registered propagator writes (baggage included), or,
 * when none is registered, the active span's `traceparent`. Empty outside a
 * span, or with no context manager to say which span is active.
 */
export function activeTraceMeta(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (carrier.traceparent === undefined) {
    const own = carrierOf(trace.getSpan(context.active())?.spanContext());
    if (own) Object.assign(carrier, own);
  }
  return carrier;
}
