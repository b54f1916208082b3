import { Code, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import { codeName, codeOf, grpcTypeOf, type RpcRequest } from "../observability/rpc-call.js";
import type { MethodLabels, ServerMetrics } from "../observability/server-metrics.js";
import { tapStream, type StreamEnd } from "../observability/tap-stream.js";

/**
 * Counts every RPC the way go-grpc-prometheus does: started, handled by code,
 * messages received and sent, and handling time; streams are measured until
 * their last message, and a stream the client abandons counts as Canceled.
 */
export function createMetricsInterceptor(metrics: ServerMetrics): Interceptor {
  // prom-client hashes and validates a label object on every inc(); the children for one method are made once.
  const perMethod = new Map<DescMethod, MethodMetrics>();
  const forMethod = (req: RpcRequest): MethodMetrics => {
    let m = perMethod.get(req.method);
    if (m === undefined) {
      const labels = { grpc_type: grpcTypeOf(req), grpc_service: req.service.typeName, grpc_method: req.method.name };
      const handledByCode = new Map<Code | 0, { inc(): void }>();
      m = {
        labels,
        started: metrics.started.labels(labels),
        received: metrics.received.labels(labels),
        sent: metrics.sent.labels(labels),
        seconds: metrics.handlingSeconds.labels(labels),
        openStreams: metrics.openStreams.labels(labels),
        handled(code) {
          let child = handledByCode.get(code);
          if (child === undefined) {
            child = metrics.handled.labels({ ...labels, grpc_code: codeName(code) });
            handledByCode.set(code, child);
          }
          return child;
        },
      };
      perMethod.set(req.method, m);
    }
    return m;
  };

  return (next) => async (req) => {
    const m = forMethod(req);
    const startedAt = performance.now();
    m.started.inc();
    const finish = (code: Code | 0) => {
      m.handled(code).inc();
      m.seconds.observe((performance.now() - startedAt) / 1000);
    };

    if (!req.stream) {
      m.received.inc();
      try {
        const res = await next(req);
        m.sent.inc();
        finish(0);
        return res;
      } catch (error) {
        finish(codeOf(error));
        throw error;
      }
    }

    m.openStreams.inc();
    let closed = false;
    const close = (code: Code | 0) => {
      if (closed) return;
      closed = true;
      m.openStreams.dec();
      finish(code);
    };
    const counted: StreamRequest = {
      ...req,
      message: tapStream(req.message, () => m.received.inc()),
    };
    let res: StreamResponse;
    try {
      res = (await next(counted)) as StreamResponse;
    } catch (error) {
      close(codeOf(error));
      throw error;
    }
    return {
      ...res,
      message: tapStream(
        res.message,
        () => m.sent.inc(),
        (end: StreamEnd) => close(end.kind === "completed" ? 0 : end.kind === "failed" ? codeOf(end.error) : Code.Canceled),
      ),
    };
  };
}

/** The metric children of one method, so a call touches no label objects. */
interface MethodMetrics {
  labels: Record<MethodLabels, string>;
  started: { inc(): void };
  received: { inc(): void };
  sent: { inc(): void };
  seconds: { observe(value: number): void };
  openStreams: { inc(): void; dec(): void };
  handled(code: Code | 0): { inc(): void };
}
