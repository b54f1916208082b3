import type http from "node:http";
import { toJsonString, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type UnaryRequest } from "@connectrpc/connect";
import { createMethodSerializationLookup, getJsonOptions, type MethodSerializationLookup } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout, trailerMux } from "@connectrpc/connect/protocol-connect";
import { LazySignal, startCall, asConnectError, type CallTracker, type Route } from "./fast-routes.js";
import { LightHeaders } from "./light-headers.js";

/**
 * A direct path for Connect unary calls over HTTP/1.1 (curl, backends): the
 * same implementations and interceptors as the Connect router, without
 * Fastify's request/reply objects and Connect's generic pipeline. Browsers'
 * calls (they send Origin, which needs CORS), GET requests, compressed bodies
 * and anything unusual go to the router.
 */
export interface ConnectFastPath {
  /** Serves the request and returns true when it is a call this path handles; false leaves it untouched. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  readonly served: number;
}

export interface ConnectFastPathOptions {
  routes: Map<string, Route>;
  calls: CallTracker;
  readMaxBytes: number;
  writeMaxBytes: number;
  /** Deadlines longer than this are refused, as Connect does. */
  maxTimeoutMs: number;
  contextValues: (req: http.IncomingMessage) => ContextValues;
}

type UnaryRoute = Extract<Route, { kind: "unary" }>;

const JSON_TYPES = new Set(["application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"]);

export function createConnectFastPath(options: ConnectFastPathOptions): ConnectFastPath {
  const serializations = new Map<UnaryRoute, MethodSerializationLookup<DescMessage, DescMessage>>();
  const serializationOf = (route: UnaryRoute) => {
    let lookup = serializations.get(route);
    if (lookup === undefined) {
      // Connect's own (de)serializers, with the router's defaults, so errors and JSON options match exactly.
      lookup = createMethodSerializationLookup<DescMessage, DescMessage>(route.method, undefined, undefined, {
        readMaxBytes: options.readMaxBytes,
        writeMaxBytes: options.writeMaxBytes,
      });
      serializations.set(route, lookup);
    }
    return lookup;
  };
  let served = 0;
  return {
    get served() {
      return served;
    },
    handle(req, res) {
      if (req.method !== "POST") return false;
      const headers = req.headers;
      // Browsers send Origin; their calls need CORS headers, which Fastify adds.
      if (headers.origin !== undefined) return false;
      const route = options.routes.get(req.url ?? "");
      if (route === undefined || route.kind !== "unary") return false;
      const contentType = headers["content-type"];
      if (contentType === undefined) return false;
      const binary = contentType === "application/proto";
      if (!binary && !JSON_TYPES.has(contentType)) return false;
      const encoding = headers["content-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      const version = headers["connect-protocol-version"];
      if (version !== undefined && version !== "1") return false;
      served++;
      serve(req, res, route, binary, serializationOf(route), options);
      return true;
    },
  };
}

function serve(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  route: UnaryRoute,
  binary: boolean,
  serialization: MethodSerializationLookup<DescMessage, DescMessage>,
  options: ConnectFastPathOptions,
): void {
  const call = new LazySignal();
  options.calls.add(call);
  let finished = false;
  let deadline: NodeJS.Timeout | undefined;
  const cleanup = () => {
    finished = true;
    if (deadline !== undefined) clearTimeout(deadline);
    options.calls.delete(call);
  };
  res.once("close", () => {
    if (!finished) {
      cleanup();
      call.abort(new ConnectError("the client cancelled the call", Code.Canceled));
    }
  });
  const fail = (error: ConnectError, header?: Headers) => {
    cleanup();
    respondError(res, error, header);
  };

  const timeout = parseTimeout((req.headers["connect-timeout-ms"] as string | undefined) ?? null, options.maxTimeoutMs);
  if (timeout.error !== undefined) {
    req.resume();
    fail(timeout.error);
    return;
  }
  const deadlineAt = timeout.timeoutMs === undefined ? undefined : Date.now() + timeout.timeoutMs;
  if (timeout.timeoutMs !== undefined) {
    deadline = setTimeout(() => {
      const error = new ConnectError("the operation timed out", Code.DeadlineExceeded);
      call.abort(error);
      if (!finished) fail(error);
    }, timeout.timeoutMs);
  }
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > options.readMaxBytes) {
    fail(new ConnectError(`message size ${declared} is larger than configured readMaxBytes ${options.readMaxBytes}`, Code.ResourceExhausted));
    return;
  }

  const chunks: Buffer[] = [];
  let received = 0;
  let tooLarge = false;
  req.on("data", (chunk: Buffer) => {
    if (tooLarge || finished) return;
    received += chunk.length;
    if (received > options.readMaxBytes) {
      tooLarge = true;
      chunks.length = 0;
      fail(new ConnectError(`message size is larger than configured readMaxBytes ${options.readMaxBytes}`, Code.ResourceExhausted));
      return;
    }
    chunks.push(chunk);
  });
  req.once("end", () => {
    if (tooLarge || finished) return;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    let message: unknown;
    try {
      message = serialization.getI(binary).parse(body);
    } catch (error) {
      fail(asConnectError(error));
      return;
    }
    void invoke(message);
  });

  /** Runs the call through the interceptors and handler, and writes the answer. */
  async function invoke(message: unknown): Promise<void> {
    const { request, responseHeader, responseTrailer } = startCall({
      route,
      signal: call,
      requestHeader: new LightHeaders(req.headers as Record<string, string | string[] | undefined>),
      values: options.contextValues(req),
      deadlineAt,
      protocolName: "connect",
      authority: req.headers.host ?? "localhost",
      path: req.url ?? "",
      message,
    });
    let body: Uint8Array | string;
    let out: Record<string, string>;
    try {
      const response = await route.next(request as UnaryRequest);
      if (call.aborted) throw ConnectError.from(call.abortReason);
      body = encode(serialization, route, binary, response.message, options.writeMaxBytes);
      out = { "content-type": binary ? "application/proto" : "application/json" };
      headersInto(out, response.header, response.trailer);
    } catch (error) {
      if (res.destroyed) {
        cleanup();
        return;
      }
      // Headers and trailers set before the failure still go out, as Connect sends them.
      fail(asConnectError(error), trailerMux(responseHeader.asHeaders(), responseTrailer.asHeaders()));
      return;
    }
    cleanup();
    if (res.destroyed || res.headersSent) return;
    out["content-length"] = String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
    res.writeHead(200, out);
    res.end(body);
  }
}

/**
 * Response headers, then trailers as "trailer-" headers, as Connect's
 * trailerMux sends a unary answer's trailers, without building a Headers.
 */
function headersInto(out: Record<string, string>, header: Headers, trailer: Headers): void {
  header.forEach((value, key) => {
    out[key] = value;
  });
  trailer.forEach((value, key) => {
    const name = `trailer-${key}`;
    const before = out[name];
    out[name] = before === undefined ? value : `${before}, ${value}`;
  });
}

/** Encodings of frozen (shared, immutable) answers such as a cached user's GetUser reply, per codec. */
const encodedJson = new WeakMap<object, string>();
const encodedBinary = new WeakMap<object, Uint8Array>();
/** Connect's JSON options for answers, so the text is exactly what its serializer would encode. */
const jsonOptions = getJsonOptions(undefined);

/**
 * The answer's body: protobuf bytes through Connect's serializer, or JSON as
 * text, which Node writes together with the headers in one write.
 */
function encode(
  serialization: MethodSerializationLookup<DescMessage, DescMessage>,
  route: UnaryRoute,
  binary: boolean,
  message: object,
  writeMaxBytes: number,
): Uint8Array | string {
  if (binary) {
    const hit = encodedBinary.get(message);
    if (hit !== undefined) return hit;
    const bytes = serialization.getO(true).serialize(message as never);
    if (Object.isFrozen(message)) encodedBinary.set(message, bytes);
    return bytes;
  }
  let text = encodedJson.get(message);
  if (text === undefined) {
    try {
      text = toJsonString(route.method.output, message as never, jsonOptions);
    } catch (error) {
      throw ConnectError.from(error, Code.Internal);
    }
    if (Object.isFrozen(message)) encodedJson.set(message, text);
  }
  const size = Buffer.byteLength(text);
  if (size > writeMaxBytes) {
    throw new ConnectError(`message size ${size} is larger than configured writeMaxBytes ${writeMaxBytes}`, Code.ResourceExhausted);
  }
  return text;
}

/** Writes a Connect error: its HTTP status, its metadata as headers and the JSON error body. */
function respondError(res: http.ServerResponse, error: ConnectError, header?: Headers): void {
  if (res.destroyed || res.headersSent) return;
  const body = errorToJsonBytes(error, {});
  const out: Record<string, string> = {};
  header?.forEach((value, key) => {
    out[key] = value;
  });
  error.metadata.forEach((value, key) => {
    out[key] = value;
  });
  out["content-type"] = "application/json";
  out["content-length"] = String(body.byteLength);
  res.writeHead(codeToHttpStatus(error.code), out);
  res.end(body);
}
