import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { codeName, codeOf, grpcTypeOf, procedureOf, protocolOf, type RpcRequest } from "../observability/rpc-call.js";
import { redactHeaders, redactJson } from "../observability/redact.js";
import { tapStream, type StreamEnd } from "../observability/tap-stream.js";
import { callNext } from "./call-next.js";
import { clientAddressKey, requestIdKey } from "./context-keys.js";
import { requestIdFrom } from "./error-mapping.js";
import { traceIdKey } from "./tracing.js";

/** pino levels by outcome, as grpc-go's logging middleware (DefaultServerCodeToLevel) chooses them. */
const warnCodes = new Set<Code>([
  Code.DeadlineExceeded,
  Code.PermissionDenied,
  Code.ResourceExhausted,
  Code.FailedPrecondition,
  Code.Aborted,
  Code.OutOfRange,
  Code.Unavailable,
]);
const errorCodes = new Set<Code>([Code.Unknown, Code.Unimplemented, Code.Internal, Code.DataLoss]);

function levelFor(code: Code | 0): "info" | "warn" | "error" {
  if (code === 0) return "info";
  if (errorCodes.has(code)) return "error";
  return warnCodes.has(code) ? "warn" : "info";
}

/** A message as redacted JSON for debug lines; never throws, since logging must not fail a call. */
function bodyOf<D extends DescMessage>(desc: D, message: MessageShape<D>): unknown {
  try {
    return redactJson(toJson(desc, message));
  } catch {
    return "[unprintable]";
  }
}

/**
 * Writes one JSON line per RPC through the app's pino logger when the call
 * ends: request id (reusing the caller's x-request-id when it is safe, the
 * id the error-mapping interceptor then echoes), procedure, protocol, stream
 * kind, status code, duration, message counts, trace id and, for failures,
 * the error message. At debug level it adds request headers and message
 * bodies with secrets redacted. Every value goes through pino's JSON
 * encoding, so nothing a caller sends can start a line of its own.
 */
export function createLoggingInterceptor(appLogger: Logger): Interceptor {
  // Every field of these lines is built here, with headers and bodies already
  // redacted (at any depth, more thoroughly than path patterns can), so the
  // app logger's path-based redaction, which costs ~25 µs a line, is skipped.
  const logger = appLogger.child({}, { redact: { paths: [] } });
  return (next) => (req) => {
    const startedAt = performance.now();
    let requestId = req.contextValues.get(requestIdKey);
    if (requestId === "") {
      requestId = requestIdFrom(req.header.get("x-request-id"));
      req.contextValues.set(requestIdKey, requestId);
    }
    const debug = logger.isLevelEnabled("debug");
    const procedure = procedureOf(req);
    let messagesIn = 0;
    let messagesOut = 0;
    const write = (error: unknown, extra?: Record<string, unknown>) => {
      const code = error === undefined ? 0 : codeOf(error);
      const level = levelFor(code);
      // Below the configured level the line would be dropped by pino anyway; do not build it.
      if (!logger.isLevelEnabled(level)) return;
      const line: Record<string, unknown> = {
        requestId,
        procedure,
        protocol: protocolOf(req),
        streamKind: grpcTypeOf(req),
        code: codeName(code),
        durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
        messagesIn,
        messagesOut,
        clientAddress: req.contextValues.get(clientAddressKey),
      };
      const traceId = req.contextValues.get(traceIdKey);
      if (traceId !== undefined) line["traceId"] = traceId;
      if (error !== undefined) line["error"] = ConnectError.from(error).rawMessage;
      if (debug) line["requestHeaders"] = redactHeaders(req.header);
      logger[level](extra === undefined ? line : Object.assign(line, extra), "rpc");
    };
    if (!req.stream) {
      messagesIn = 1;
      return callNext(next, req).then(
        (res) => {
          messagesOut = 1;
          write(undefined, debug ? { request: bodyOf(req.method.input, req.message), response: bodyOf(req.method.output, res.message as never) } : undefined);
          return res;
        },
        (error: unknown) => {
          write(error, debug ? { request: bodyOf(req.method.input, req.message) } : undefined);
          throw error;
        },
      );
    }
    return streamed();

    async function streamed(): Promise<StreamResponse> {
      const debugMessage = (direction: "in" | "out", body: unknown) =>
        logger.debug({ requestId, procedure, direction, body }, "rpc message");
      const streamReq = req as StreamRequest & RpcRequest;
      const counted: StreamRequest = {
        ...streamReq,
        message: tapStream(streamReq.message, (message) => {
          messagesIn++;
          if (debug) debugMessage("in", bodyOf(req.method.input, message));
        }),
      };
      let res: StreamResponse;
      try {
        res = (await next(counted)) as StreamResponse;
      } catch (error) {
        write(error);
        throw error;
      }
      return {
        ...res,
        message: tapStream(
          res.message,
          (message) => {
            messagesOut++;
            if (debug) debugMessage("out", bodyOf(req.method.output, message));
          },
          (end: StreamEnd) =>
            write(end.kind === "completed" ? undefined : end.kind === "failed" ? end.error : new ConnectError("stream abandoned by the client", Code.Canceled)),
        ),
      };
    }
  };
}
