import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import type { ConnectFastPath } from "./connect-fast-path.js";
import type { GrpcFastPath } from "./grpc-fast-path.js";

/** The HTTP/2 client connection preface; cleartext connections that start with it speak h2c. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

type RequestHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface OnePortOptions {
  tls?: { certFile: string; keyFile: string; clientCaFile?: string | undefined } | undefined;
  /** Streams one HTTP/2 connection may have open at once (grpc-go and Envoy use 100). */
  maxConcurrentStreams?: number;
  /** Largest header block accepted, in bytes. */
  maxHeaderListSize?: number;
  /** Memory one HTTP/2 session may buffer, in megabytes. */
  maxSessionMemoryMb?: number;
  /** An HTTP/2 connection without open streams for this long gets GOAWAY. */
  idleSessionTimeoutMs?: number;
  /** Serves the calls it recognises straight off the HTTP/2 stream; everything else goes to the handler. */
  fastPath?: GrpcFastPath | undefined;
  /** The same for Connect unary calls over HTTP/1.1. */
  connectFastPath?: ConnectFastPath | undefined;
  /** HTTP/1.1: time allowed to send the request headers. */
  headersTimeoutMs?: number;
  /** HTTP/1.1: time allowed to send the whole request. */
  requestTimeoutMs?: number;
  /** HTTP/1.1: how long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs?: number;
  /** How often HTTP/1.1 connections are checked against the header and request timeouts. */
  timeoutCheckIntervalMs?: number;
  /** TLS: time allowed for the handshake; cleartext: time allowed to send the first bytes. */
  handshakeTimeoutMs?: number;
  /**
   * An HTTP/2 stream or HTTP/1.1 connection whose client has taken no data
   * for this long while the server has data waiting is reset, so a client
   * that stops reading cannot hold a handler (and its database cursor) forever.
   */
  stalledWriteTimeoutMs?: number;
}

/** A listener for every protocol on one port, with the connection bookkeeping graceful shutdown needs. */
export interface OnePortServer extends net.Server {
  /** Sends GOAWAY to every HTTP/2 session and closes idle HTTP/1.1 connections; in-flight calls go on. */
  drain(): void;
  /** Destroys every remaining connection. */
  destroyAll(): void;
  /** Open connections by protocol, for metrics and tests. */
  connectionCount(): { http1: number; http2: number };
}

/**
 * Creates the one listener: cleartext HTTP/1.1 and HTTP/2 with prior knowledge
 * told apart by the first bytes, or TLS with ALPN (h2, http/1.1) when
 * certificates are given, optionally requiring client certificates.
 */
export function createOnePortServer(options: OnePortOptions, handler: RequestHandler): OnePortServer {
  const sessions = new Set<http2.ServerHttp2Session>();
  const http1Sockets = new Set<Duplex>();
  const h2Settings: http2.Settings = {
    maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
    maxHeaderListSize: options.maxHeaderListSize ?? 64 * 1024,
    initialWindowSize: 1024 * 1024,
  };
  const h2Options = {
    settings: h2Settings,
    maxSessionMemory: options.maxSessionMemoryMb ?? 10,
    maxHeaderListPairs: 256,
  };

  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const h1 = http.createServer(
    {
      headersTimeout,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      maxHeaderSize: options.maxHeaderListSize ?? 64 * 1024,
      connectionsCheckingInterval: options.timeoutCheckIntervalMs ?? Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      closeIfAnsweredEarly(req, res);
      if (options.connectFastPath?.handle(req, res) === true) return;
      (handler as (req: http.IncomingMessage, res: http.ServerResponse) => void)(req, res);
    },
  );
  const handshakeTimeout = options.handshakeTimeoutMs ?? 10_000;
  const h2 = http2.createServer(h2Options);
  const fastPath = options.fastPath;
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: unknown) => {
    if (fastPath?.handle(stream, headers) === true) return;
    dispatchCompat(stream, headers, rawHeaders as unknown as string[], handler);
  });
  // Errors of one bad client end that connection only, never the process.
  h1.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
  const stalledMs = options.stalledWriteTimeoutMs ?? 30_000;
  const toHttp1 = (socket: Duplex) => {
    watchStalledWrites(socket, stalledMs, () => socket.destroy());
    http1Sockets.add(socket);
    socket.once("close", () => http1Sockets.delete(socket));
    h1.emit("connection", socket);
  };

  let outer: net.Server;
  if (options.tls !== undefined) {
    const mutual = options.tls.clientCaFile !== undefined;
    outer = tls.createServer(
      {
        cert: readFileSync(options.tls.certFile),
        key: readFileSync(options.tls.keyFile),
        ...(mutual ? { ca: readFileSync(options.tls.clientCaFile as string), requestCert: true, rejectUnauthorized: true } : {}),
        ALPNProtocols: ["h2", "http/1.1"],
        noDelay: true,
        keepAlive: true,
        handshakeTimeout,
      },
      (socket) => {
        if (socket.alpnProtocol === "h2") h2.emit("connection", socket);
        else toHttp1(socket);
      },
    );
    outer.on("tlsClientError", () => {});
  } else {
    // Nagle's algorithm would hold back small responses waiting for ACKs; RPC replies are small and latency-bound.
    outer = net.createServer({ noDelay: true, keepAlive: true }, (socket) => routeBySniffing(socket, h2, toHttp1, handshakeTimeout));
  }
  // Node enforces headersTimeout/requestTimeout, and finds idle connections, only
  // for servers that heard 'listening'; h1 never listens itself, so tell it when
  // the real listener does, and let it stop its checks when that one closes.
  outer.on("listening", () => h1.emit("listening"));
  outer.on("close", () => h1.close(() => {}));

  h2.on("session", (session) => trackSession(session, sessions, options.idleSessionTimeoutMs ?? 5 * 60_000, stalledMs));
  h2.on("sessionError", () => {});

  const server = outer as OnePortServer;
  server.drain = () => {
    for (const session of sessions) {
      if (!session.closed && !session.destroyed) session.close();
    }
    h1.closeIdleConnections();
  };
  server.destroyAll = () => {
    for (const session of sessions) session.destroy();
    h1.closeAllConnections();
    for (const socket of http1Sockets) socket.destroy();
  };
  server.connectionCount = () => ({ http1: http1Sockets.size, http2: sessions.size });
  return server;
}

/** True while a request that carries a body has not been read to its end. */
function hasUnreadBody(req: http.IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** How long a connection refused mid-body stays half-open so the client can read the answer before it is reset. */
const LINGER_MS = 2000;

/**
 * An answer that starts before the request body was read to its end (a
 * message over readMaxBytes, say) says "Connection: close": the rest of that
 * body would otherwise be taken for the next request, and Node leaves the
 * connection stuck behind it. Node would then destroy the socket as soon as
 * the answer is flushed, and the unread upload makes the kernel send a reset
 * that can destroy the answer in flight; so the socket only half-closes, and
 * is destroyed a little later (a "lingering close", as nginx and Apache do).
 */
function closeIfAnsweredEarly(req: http.IncomingMessage, res: http.ServerResponse): void {
  // Taken now: a request stream destroyed by its reader no longer points at its socket.
  const socket = req.socket;
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    if (this.shouldKeepAlive && hasUnreadBody(req)) {
      this.shouldKeepAlive = false;
      (socket as net.Socket).destroySoon = () => {
        socket.end();
        setTimeout(() => socket.destroy(), LINGER_MS).unref();
      };
    }
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/** Tells a bad or slow HTTP/1.1 client why it is cut off (408, 431 or 400), then closes its connection. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const answered = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (err.code === "ECONNRESET" || !socket.writable || answered) {
    socket.destroy();
    return;
  }
  const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  // A client that never reads its answer must not keep the socket open.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Does for one stream what Node's HTTP/2 compatibility layer does when a
 * server has a request listener: wraps it in request/response objects.
 */
function dispatchCompat(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[], handler: RequestHandler): void {
  const request = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
  const response = new http2.Http2ServerResponse(stream);
  if (headers[":method"] === "CONNECT") {
    response.statusCode = 405;
    response.end();
    return;
  }
  const expect = headers["expect"];
  if (expect !== undefined) {
    if (expect !== "100-continue") {
      response.statusCode = 417;
      response.end();
      return;
    }
    response.writeContinue();
  }
  handler(request, response);
}

/** Hands a cleartext socket to the HTTP/2 server when it opens with the preface, else to HTTP/1.1. */
function routeBySniffing(socket: net.Socket, h2: http2.Http2Server, toHttp1: (socket: Duplex) => void, firstBytesTimeoutMs: number): void {
  let seen: Buffer = Buffer.alloc(0);
  const onError = () => socket.destroy();
  socket.on("error", onError);
  const giveUp = setTimeout(() => socket.destroy(), firstBytesTimeoutMs);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const prefixMatches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (prefixMatches && seen.length < H2_PREFACE.length) return;
    socket.removeListener("data", onData);
    socket.removeListener("error", onError);
    clearTimeout(giveUp);
    socket.pause();
    socket.unshift(seen);
    if (prefixMatches) {
      h2.emit("connection", socket);
    } else {
      toHttp1(socket);
      // The HTTP/1.1 parser reads through 'data' events; the sniffer paused them.
      socket.resume();
    }
  };
  socket.on("data", onData);
}

/**
 * A stream whose answer is complete while the client is still sending (a
 * message over readMaxBytes, say) would stay half-open for as long as the
 * client keeps it so, and hold up shutdown forever; RFC 9113 §8.1 lets the
 * server end it with RST_STREAM(NO_ERROR) once the answer, trailers
 * included, is out, as grpc-go does.
 */
function resetOnceAnswered(stream: http2.ServerHttp2Stream, attempt = 0): void {
  if (stream.closed || stream.destroyed) return;
  const state = stream.state;
  if (state.remoteClose === 1) return;
  if (state.localClose === 1) {
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
    // After NO_ERROR Node would keep the stream until its unread request data is consumed, which nobody will do.
    stream.destroy();
    return;
  }
  // Trailers follow the last data frame shortly; look again until they are sent.
  if (attempt < 100) setTimeout(() => resetOnceAnswered(stream, attempt + 1), 10).unref();
}

/** Calls onStall once the writable has had data waiting (above its high-water mark) for limitMs without draining. */
function watchStalledWrites(writable: Duplex, limitMs: number, onStall: () => void): void {
  if (limitMs <= 0) return;
  let since: number | undefined;
  // Any progress restarts the clock, also progress between two looks.
  const progressed = () => (since = undefined);
  writable.on("drain", progressed);
  const check = setInterval(() => {
    if (!writable.writableNeedDrain) {
      since = undefined;
      return;
    }
    since ??= Date.now();
    if (Date.now() - since >= limitMs) {
      clearInterval(check);
      onStall();
    }
  }, Math.max(50, Math.floor(limitMs / 4)));
  check.unref();
  writable.once("close", () => {
    clearInterval(check);
    writable.off("drain", progressed);
  });
}

function ignoreError(): void {}

/** Shared by every stream, so a call costs no closure for it. */
function resetWhenFinished(this: http2.ServerHttp2Stream): void {
  resetOnceAnswered(this);
}

/**
 * Remembers a session for shutdown, closes it after a spell with no open
 * streams (as grpc-go's MaxConnectionIdle does), and resets its streams
 * whose client stopped reading. Per stream it adds only shared listeners:
 * one sweep per session looks for stalled writes, instead of a timer per call.
 */
function trackSession(session: http2.ServerHttp2Session, sessions: Set<http2.ServerHttp2Session>, idleMs: number, stalledMs: number): void {
  sessions.add(session);
  let open = 0;
  /** When the last stream closed; the idle timer is armed once per idle spell, not re-armed per call. */
  let idleSince = Date.now();
  let idleTimer: NodeJS.Timeout | undefined;
  const checkIdle = () => {
    idleTimer = undefined;
    if (open > 0 || session.closed) return;
    const left = idleSince + idleMs - Date.now();
    if (left <= 0) session.close();
    else armIdle(left);
  };
  const armIdle = (delayMs: number) => {
    if (idleMs <= 0 || idleTimer !== undefined) return;
    idleTimer = setTimeout(checkIdle, delayMs);
    idleTimer.unref();
  };
  armIdle(idleMs);
  const stalls = stalledMs > 0 ? new StallWatch(stalledMs) : undefined;
  function onStreamClose(this: http2.ServerHttp2Stream): void {
    open--;
    stalls?.forget(this);
    if (open === 0 && !session.closed) {
      idleSince = Date.now();
      armIdle(idleMs);
    }
  }
  session.on("stream", (stream) => {
    open++;
    // A stream reset by its client must never become an uncaught exception, whichever path serves it.
    stream.on("error", ignoreError);
    stream.on("finish", resetWhenFinished);
    stream.on("close", onStreamClose);
    stalls?.watch(stream);
  });
  session.on("error", ignoreError);
  session.once("close", () => {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    stalls?.stop();
    sessions.delete(session);
  });
}

/**
 * Resets the streams of one session that have had data waiting (above their
 * high-water mark) for limitMs without draining; a stream is only given a
 * 'drain' listener once it is first seen waiting.
 */
class StallWatch {
  /** Open streams, with the time each was first seen waiting (undefined while it is not). */
  private readonly streams = new Map<http2.ServerHttp2Stream, number | undefined>();
  /** Streams that already have their 'drain' listener. */
  private readonly listening = new WeakSet<http2.ServerHttp2Stream>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly limitMs: number) {}

  watch(stream: http2.ServerHttp2Stream): void {
    this.streams.set(stream, undefined);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), Math.max(50, Math.floor(this.limitMs / 4)));
      this.timer.unref();
    }
  }

  forget(stream: http2.ServerHttp2Stream): void {
    this.streams.delete(stream);
    if (this.streams.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [stream, since] of this.streams) {
      if (!stream.writableNeedDrain) {
        if (since !== undefined) this.streams.set(stream, undefined);
        continue;
      }
      if (since === undefined) {
        this.streams.set(stream, now);
        if (!this.listening.has(stream)) {
          this.listening.add(stream);
          // Any progress restarts the clock, also progress between two looks.
          stream.on("drain", () => {
            if (this.streams.has(stream)) this.streams.set(stream, undefined);
          });
        }
      } else if (now - since >= this.limitMs) {
        this.streams.delete(stream);
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    }
  }
}
