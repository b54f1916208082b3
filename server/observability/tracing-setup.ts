/**
 * OpenTelemetry for one app: a tracer provider exporting OTLP over
 * HTTP/protobuf. Nothing here is created when OTEL_EXPORTER_OTLP_ENDPOINT is
 * unset, so an untraced server pays nothing per call.
 */
import { context, type TextMapPropagator, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

/** What the tracing interceptor and the storage decorator need, and how to flush at shutdown. */
export interface Tracing {
  tracer: Tracer;
  /** Reads the caller's W3C traceparent/tracestate. */
  propagator: TextMapPropagator;
  /** Sends spans still buffered; tests call it before looking at the receiver. */
  forceFlush(): Promise<void>;
  /** Flushes (for at most 2 s) and stops exporting. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** The OTLP base URL, e.g. http://collector:4318; spans go to <endpoint>/v1/traces. */
  endpoint: string;
  serviceName: string;
  serviceVersion?: string;
  /** Replaces the OTLP exporter, e.g. with an in-memory one. */
  exporter?: SpanExporter;
}

/** How long shutdown waits for the last spans to be exported. */
const SHUTDOWN_FLUSH_MS = 2000;

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

let contextManagerInstalled = false;

/**
 * Child spans find their parent through the active context, which needs an
 * AsyncLocalStorage context manager; it is process-wide, so it is installed once.
 */
function ensureContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = true;
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
}

/** The per-signal URL the OTLP/HTTP spec derives from OTEL_EXPORTER_OTLP_ENDPOINT. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

/**
 * A tracer provider of this app's own, not registered globally, so that
 * several apps in one process (tests) keep their spans apart.
 */
export function createTracing(options: TracingOptions): Tracing {
  ensureContextManager();
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: tracesUrl(options.endpoint) });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      ...(options.serviceVersion !== undefined ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return {
    tracer: provider.getTracer("polyglot-users", options.serviceVersion),
    propagator: new W3CTraceContextPropagator(),
    forceFlush: () => provider.forceFlush(),
    // An unreachable collector must not hold the process past its shutdown bound; unsent spans are dropped.
    shutdown: () => Promise.race([provider.shutdown(), delay(SHUTDOWN_FLUSH_MS)]),
  };
}
