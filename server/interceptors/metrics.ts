import { Code, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import { codeName, codeOf, grpcTypeOf } from "../observability/rpc-call.js";
import type { ServerMetrics } from "../observability/server-metrics.js";
import { tapStream, type StreamEnd } from "../observability/tap-stream.js";

/**
 * Counts every RPC the way go-grpc-prometheus does: started, handled by code,
 * messages received and sent, and handling time; streams are measured until
 * their last message, and a stream the client abandons counts as Canceled.
 */
export function createMetricsInterceptor(metrics: ServerMetrics): Interceptor {
  return (next) => async (req) => {
    const labels = { grpc_type: grpcTypeOf(req), grpc_service: req.service.typeName, grpc_method: req.method.name };
    const startedAt = performance.now();
    metrics.started.inc(labels);
    const finish = (code: Code | 0) => {
      metrics.handled.inc({ ...labels, grpc_code: codeName(code) });
      metrics.handlingSeconds.observe(labels, (performance.now() - startedAt) / 1000);
    };

    if (!req.stream) {
      metrics.received.inc(labels);
      try {
        const res = await next(req);
        metrics.sent.inc(labels);
        finish(0);
        return res;
      } catch (error) {
        finish(codeOf(error));
        throw error;
      }
    }

    metrics.openStreams.inc(labels);
    let closed = false;
    const close = (code: Code | 0) => {
      if (closed) return;
      closed = true;
      metrics.openStreams.dec(labels);
      finish(code);
    };
    const counted: StreamRequest = {
      ...req,
      message: tapStream(req.message, () => metrics.received.inc(labels)),
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
        () => metrics.sent.inc(labels),
        (end: StreamEnd) => close(end.kind === "completed" ? 0 : end.kind === "failed" ? codeOf(end.error) : Code.Canceled),
      ),
    };
  };
}
