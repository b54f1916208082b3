import { Code, createContextKey, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
} from "@opentelemetry/api";
import { ConnectError } from "@connectrpc/connect";
import { codeOf, procedureOf, protocolOf } from "../observability/rpc-call.js";
import { tapStream, type StreamEnd } from "../observability/tap-stream.js";

/** The trace id of the call's server span, for the log line; undefined when tracing is off. */
export const traceIdKey = createContextKey<string | undefined>(undefined, { description: "trace id" });

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** Codes that mean the server failed, which OpenTelemetry's RPC conventions mark as span errors. */
const serverFaults = new Set<Code>([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

export interface TracingInterceptorOptions {
  tracer: Tracer;
  /** Reads the caller's trace context, normally W3C traceparent. */
  propagator: TextMapPropagator;
}

/**
 * Opens a SERVER span per RPC as a child of the caller's traceparent and
 * makes it the active context for the handler, so storage spans nest under
 * it; streams keep the span open until their last message.
 */
export function createTracingInterceptor(options: TracingInterceptorOptions): Interceptor {
  const { tracer, propagator } = options;
  return (next) => async (req) => {
    const parent = propagator.extract(ROOT_CONTEXT, req.header, headerGetter);
    const connect = protocolOf(req) === "connect";
    const span = tracer.startSpan(
      procedureOf(req),
      {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": connect ? "connect_rpc" : "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
      },
      parent,
    );
    req.contextValues.set(traceIdKey, span.spanContext().traceId);
    const active = trace.setSpan(parent, span);
    const end = (error: unknown) => endSpan(span, connect, error);

    if (!req.stream) {
      try {
        const res = await context.with(active, () => next(req));
        end(undefined);
        return res;
      } catch (error) {
        end(error);
        throw error;
      }
    }
    let res: StreamResponse;
    try {
      res = (await context.with(active, () => next(req))) as StreamResponse;
    } catch (error) {
      end(error);
      throw error;
    }
    const observed = tapStream(res.message, () => {}, (outcome: StreamEnd) =>
      end(outcome.kind === "completed" ? undefined : outcome.kind === "failed" ? outcome.error : new ConnectError("stream abandoned by the client", Code.Canceled)),
    );
    return { ...res, message: bindToContext(observed, active) };
  };
}

/** Records the outcome with the attribute names of OpenTelemetry's RPC conventions, then ends the span. */
function endSpan(span: Span, connect: boolean, error: unknown): void {
  const code = error === undefined ? 0 : codeOf(error);
  if (connect) {
    if (code !== 0) span.setAttribute("rpc.connect_rpc.error_code", connectCodeName(code));
  } else {
    span.setAttribute("rpc.grpc.status_code", code);
  }
  if (code !== 0 && serverFaults.has(code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: ConnectError.from(error).rawMessage });
  }
  span.end();
}

/** Connect's snake_case code names, e.g. not_found. */
function connectCodeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Runs every step of a stream inside the span's context, so work the handler does while streaming nests under the call. */
function bindToContext<T>(source: AsyncIterable<T>, active: Context): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        next: () => context.with(active, () => it.next()),
        return: (value?: unknown) =>
          context.with(active, () => (it.return ? it.return(value) : Promise.resolve({ done: true as const, value: value as T }))),
        throw: (error?: unknown) => context.with(active, () => (it.throw ? it.throw(error) : Promise.reject(error))),
      };
    },
  };
}
