import { Code, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import { codeName, codeOf, grpcTypeOf, type RpcRequest } from "../observability/rpc-call.js";
import { observeSeconds, type MethodRecord, type ServerMetrics } from "../observability/server-metrics.js";
import { tapStream, type StreamEnd } from "../observability/tap-stream.js";
import { callNext } from "./call-next.js";

/**
 * Counts every RPC the way go-grpc-prometheus does: started, handled by code,
 * messages received and sent, and handling time; streams are measured until
 * their last message, and a stream the client abandons counts as Canceled.
 */
export function createMetricsInterceptor(metrics: ServerMetrics): Interceptor {
  const perMethod = new Map<DescMethod, MethodRecord>();
  const forMethod = (req: RpcRequest): MethodRecord => {
    let m = perMethod.get(req.method);
    if (m === undefined) {
      m = metrics.method({ grpc_type: grpcTypeOf(req), grpc_service: req.service.typeName, grpc_method: req.method.name });
      perMethod.set(req.method, m);
    }
    return m;
  };

  return (next) => (req) => {
    const m = forMethod(req);
    const startedAt = performance.now();
    m.started++;
    const finish = (code: Code | 0) => {
      const name = codeName(code);
      m.handled.set(name, (m.handled.get(name) ?? 0) + 1);
      observeSeconds(m, (performance.now() - startedAt) / 1000);
    };

    if (!req.stream) {
      m.received++;
      return callNext(next, req).then(
        (res) => {
          m.sent++;
          finish(0);
          return res;
        },
        (error: unknown) => {
          finish(codeOf(error));
          throw error;
        },
      );
    }
    return measureStream(next as (req: StreamRequest) => Promise<StreamResponse>, req, m, finish) as ReturnType<typeof next>;
  };
}

/** A stream is open until its last message; one the client abandons counts as Canceled. */
async function measureStream(
  next: (req: StreamRequest) => Promise<StreamResponse>,
  req: StreamRequest,
  m: MethodRecord,
  finish: (code: Code | 0) => void,
): Promise<StreamResponse> {
  m.openStreams++;
  let closed = false;
  const close = (code: Code | 0) => {
    if (closed) return;
    closed = true;
    m.openStreams--;
    finish(code);
  };
  const counted: StreamRequest = {
    ...req,
    message: tapStream(req.message, () => void m.received++),
  };
  let res: StreamResponse;
  try {
    res = await next(counted);
  } catch (error) {
    close(codeOf(error));
    throw error;
  }
  return {
    ...res,
    message: tapStream(
      res.message,
      () => void m.sent++,
      (end: StreamEnd) => close(end.kind === "completed" ? 0 : end.kind === "failed" ? codeOf(end.error) : Code.Canceled),
    ),
  };
}
