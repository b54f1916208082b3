import type http2 from "node:http2";
import { fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type StreamRequest, type StreamResponse, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { copyInto, LazySignal, startCall, asConnectError, type CallTracker, type Route } from "./fast-routes.js";
import { LightHeaders } from "./light-headers.js";
import { compileEncoder, type CompiledEncoder } from "./compiled-encoder.js";

/**
 * A direct gRPC path for unary and server-streaming calls: the same service
 * implementations and the same interceptors as the Connect router, without
 * its per-call chain of async iterables, WHATWG Headers and the
 * Fastify/compat request objects. Anything it does not handle exactly
 * (compression, JSON codec, client and bidi streams, other protocols) is
 * left to the regular Connect router.
 */
export interface GrpcFastPath {
  /** Serves the stream and returns true when it is a call this path handles; false leaves it untouched. */
  handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** Procedures served here, as "/package.Service/Method". */
  readonly procedures: readonly string[];
  /** Calls this path has taken on, for metrics and for tests that must know which path served them. */
  readonly served: number;
}

export interface GrpcFastPathOptions {
  /** The routes, with their interceptor chains, shared with the other fast paths. */
  routes: Map<string, Route>;
  /** Tracks calls in flight, so shutdown can abort them. */
  calls: CallTracker;
  readMaxBytes: number;
  writeMaxBytes: number;
  /** Deadlines longer than this are refused, as Connect does. */
  maxTimeoutMs: number;
  /** Context values for a call, as the Connect plugin's contextValues option makes them. */
  contextValues: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => ContextValues;
}

const CONTENT_TYPE_RESPONSE = "application/grpc+proto";
const ACCEPT_ENCODING = "gzip, br";
/** Builds the fast path from the same registrations and interceptors the router gets. */
export function createGrpcFastPath(options: GrpcFastPathOptions): GrpcFastPath {
  const routes = options.routes;

  let served = 0;
  return {
    procedures: [...routes.keys()],
    get served() {
      return served;
    },
    handle(stream, headers) {
      if (headers[":method"] !== "POST") return false;
      const route = routes.get(headers[":path"] ?? "");
      if (route === undefined) return false;
      const contentType = headers["content-type"];
      if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      served++;
      serve(stream, headers, route, options);
      return true;
    },
  };
}

/**
 * Percent-encodes grpc-message as the gRPC spec asks: only bytes outside
 * printable ASCII, and "%". Connect encodes with encodeURIComponent, which
 * grpc-js clients decode with decodeURI, so they would see "%3A" for ":".
 */
export function encodeGrpcMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** grpc-status, grpc-message and grpc-status-details-bin for an outcome, as Connect writes them but with the spec's message encoding. */
function setStatus(target: LightHeaders, error: ConnectError | undefined): void {
  setTrailerStatus(target.asHeaders(), error);
  if (error !== undefined) target.set("grpc-message", encodeGrpcMessage(error.rawMessage));
}

/** Sends a trailers-only response carrying the error, as gRPC servers do for failures before any message. */
function respondError(stream: http2.ServerHttp2Stream, error: ConnectError, header?: LightHeaders): void {
  if (stream.destroyed || stream.closed) return;
  const out = header ?? new LightHeaders();
  setStatus(out, error);
  if (stream.headersSent) {
    // Headers already went out: the status must travel as trailers.
    stream.close(0);
    return;
  }
  stream.respond(out.toObject({ ":status": "200", "content-type": CONTENT_TYPE_RESPONSE, "grpc-accept-encoding": ACCEPT_ENCODING }), {
    endStream: true,
  });
}

/** Parses one length-prefixed message, or explains why it cannot. */
function unframe(body: Buffer, readMaxBytes: number): Buffer | ConnectError {
  if (body.length < 5) return new ConnectError("protocol error: missing message", Code.Unimplemented);
  if (body[0] !== 0) {
    return new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  }
  const length = body.readUInt32BE(1);
  if (length > readMaxBytes) {
    return new ConnectError(`message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
  }
  if (body.length !== 5 + length) {
    return new ConnectError(
      body.length < 5 + length ? "protocol error: incomplete envelope" : "protocol error: received extra input message for unary method",
      body.length < 5 + length ? Code.InvalidArgument : Code.Unimplemented,
    );
  }
  return body.subarray(5);
}

function serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, route: Route, options: GrpcFastPathOptions): void {
  const call = new LazySignal();
  const inFlight = options.calls;
  let finished = false;
  let deadline: NodeJS.Timeout | undefined;
  const cleanup = () => {
    finished = true;
    if (deadline !== undefined) clearTimeout(deadline);
    inFlight.delete(call);
  };
  inFlight.add(call);
  // A client that resets or disconnects cancels the call, so handlers can stop early.
  stream.once("close", () => {
    if (!finished) {
      cleanup();
      call.abort(new ConnectError("the client cancelled the call", Code.Canceled));
    }
  });

  const timeout = parseTimeout((headers["grpc-timeout"] as string | undefined) ?? null, options.maxTimeoutMs);
  if (timeout.error !== undefined) {
    cleanup();
    stream.resume();
    respondError(stream, timeout.error);
    return;
  }
  const timeoutMs = timeout.timeoutMs;
  const deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  if (timeoutMs !== undefined) {
    deadline = setTimeout(() => {
      const error = new ConnectError("the operation timed out", Code.DeadlineExceeded);
      call.abort(error);
      // A unary call answers at once; a stream ends through its handler, which sees the abort, with the status in trailers.
      if (!finished && route.kind === "unary") {
        cleanup();
        respondError(stream, error);
      }
    }, timeoutMs);
  }

  const chunks: Buffer[] = [];
  let received = 0;
  let tooLarge = false;
  stream.on("data", (chunk: Buffer) => {
    if (tooLarge) return;
    received += chunk.length;
    if (received > options.readMaxBytes + 5) {
      tooLarge = true;
      chunks.length = 0;
      cleanup();
      respondError(stream, new ConnectError(`message is larger than configured readMaxBytes ${options.readMaxBytes}`, Code.ResourceExhausted));
      return;
    }
    chunks.push(chunk);
  });
  stream.once("end", () => {
    if (tooLarge || finished) return;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const payload = unframe(body, options.readMaxBytes);
    if (payload instanceof ConnectError) {
      cleanup();
      respondError(stream, payload);
      return;
    }
    let message: never;
    try {
      message = fromBinary(route.method.input, payload) as never;
    } catch (error) {
      cleanup();
      respondError(stream, new ConnectError(`parse binary: ${error instanceof Error ? error.message : String(error)}`, Code.InvalidArgument));
      return;
    }
    void invoke(stream, headers, route, options, message, call, deadlineAt, cleanup);
  });
}

async function invoke(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  route: Route,
  options: GrpcFastPathOptions,
  message: never,
  call: LazySignal,
  deadlineAt: number | undefined,
  cleanup: () => void,
): Promise<void> {
  const { request, responseHeader } = startCall({
    route,
    signal: call,
    requestHeader: new LightHeaders(headers as Record<string, string | string[] | undefined>),
    values: options.contextValues(stream, headers),
    deadlineAt,
    protocolName: "grpc",
    authority: headers[":authority"] ?? "localhost",
    path: headers[":path"] ?? "",
    message,
  });
  if (route.kind === "server_streaming") {
    await streamResponse(stream, route, options, request as StreamRequest, call, cleanup, responseHeader);
    return;
  }

  let response: UnaryResponse;
  try {
    response = await route.next(request as UnaryRequest);
  } catch (error) {
    cleanup();
    if (stream.destroyed || stream.closed) return;
    // Response headers set before the failure still go out, as Connect sends them.
    respondError(stream, asConnectError(error), responseHeader);
    return;
  }
  cleanup();
  if (stream.destroyed || stream.closed) return;
  if (call.aborted) {
    respondError(stream, ConnectError.from(call.abortReason));
    return;
  }
  const frame = encodeFrame(route.method.output, response.message, options.writeMaxBytes);
  if (frame instanceof ConnectError) {
    respondError(stream, frame);
    return;
  }
  const head = copyInto(response.header, { ":status": "200", "content-type": CONTENT_TYPE_RESPONSE, "grpc-accept-encoding": ACCEPT_ENCODING });
  const trailer = copyInto(response.trailer, {});
  trailer["grpc-status"] = "0";
  stream.respond(head, { waitForTrailers: true });
  stream.once("wantTrailers", () => {
    if (!stream.destroyed) stream.sendTrailers(trailer);
  });
  stream.end(frame);
}

/**
 * Encoded frames of messages sent to many streams at once (a chat message to
 * every subscriber), so each is serialized once rather than once per stream.
 */
const frameCache = new WeakMap<object, Buffer>();

/** One length-prefixed message, or RESOURCE_EXHAUSTED when it is over the write limit. */
function encodeFrame(desc: DescMessage, message: Message, writeMaxBytes: number): Buffer | ConnectError {
  const cached = frameCache.get(message);
  if (cached !== undefined) return cached;
  let frame = encoderFor(desc)?.(message, 5);
  if (frame === undefined) {
    const bytes = toBinary(desc, message);
    frame = Buffer.allocUnsafe(5 + bytes.length);
    frame.set(bytes, 5);
  }
  const length = frame.length - 5;
  if (length > writeMaxBytes) {
    return new ConnectError(`message size ${length} is larger than configured writeMaxBytes ${writeMaxBytes}`, Code.ResourceExhausted);
  }
  frame[0] = 0;
  frame.writeUInt32BE(length, 1);
  if (Object.isFrozen(message)) frameCache.set(message, frame);
  return frame;
}

/** Compiled encoders of the output messages met so far; null where a message needs toBinary. */
const encoders = new Map<DescMessage, CompiledEncoder | null>();

function encoderFor(desc: DescMessage): CompiledEncoder | undefined {
  let encoder = encoders.get(desc);
  if (encoder === undefined) {
    encoder = compileEncoder(desc) ?? null;
    encoders.set(desc, encoder);
  }
  return encoder ?? undefined;
}

/** Resolves when the stream can take more data, or false when it closed first. */
function drained(stream: http2.ServerHttp2Stream): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      stream.off("close", onClose);
      resolve(true);
    };
    const onClose = () => {
      stream.off("drain", onDrain);
      resolve(false);
    };
    stream.once("drain", onDrain);
    stream.once("close", onClose);
  });
}

/**
 * Writes a server stream: headers with the first message (so handlers may
 * still set them), each message as it comes with backpressure, then the
 * status in trailers; a failure before the first message is trailers-only.
 */
async function streamResponse(
  stream: http2.ServerHttp2Stream,
  route: Extract<Route, { kind: "server_streaming" }>,
  options: GrpcFastPathOptions,
  request: StreamRequest,
  call: LazySignal,
  cleanup: () => void,
  earlyHeader: LightHeaders,
): Promise<void> {
  let response: StreamResponse;
  try {
    response = await route.next(request);
  } catch (error) {
    cleanup();
    respondError(stream, asConnectError(error), earlyHeader);
    return;
  }
  const iterator = response.message[Symbol.asyncIterator]();
  let failure: ConnectError | undefined;
  let headersSent = false;
  const sendHeaders = () => {
    headersSent = true;
    stream.respond(copyInto(response.header, { ":status": "200", "content-type": CONTENT_TYPE_RESPONSE, "grpc-accept-encoding": ACCEPT_ENCODING }), {
      waitForTrailers: true,
    });
  };
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) break;
      if (stream.destroyed || stream.closed) break;
      const frame = encodeFrame(route.method.output, step.value, options.writeMaxBytes);
      if (frame instanceof ConnectError) throw frame;
      if (!headersSent) sendHeaders();
      if (!stream.write(frame) && !(await drained(stream))) break;
    }
  } catch (error) {
    failure = asConnectError(error);
  } finally {
    cleanup();
  }
  if (stream.destroyed || stream.closed) {
    // The client went away: let the handler's finally blocks run (leaving the chat hub, closing cursors).
    void iterator.return?.()?.catch(() => {});
    return;
  }
  if (!headersSent) {
    if (failure !== undefined) {
      respondError(stream, failure, earlyHeader);
      return;
    }
    sendHeaders();
  }
  const trailer = new LightHeaders();
  response.trailer.forEach((value, key) => trailer.set(key, value));
  setStatus(trailer, failure);
  const trailers = trailer.toObject();
  stream.once("wantTrailers", () => {
    if (!stream.destroyed) stream.sendTrailers(trailers);
  });
  stream.end();
}

