import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";

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
  /** HTTP/1.1: time allowed to send the request headers. */
  headersTimeoutMs?: number;
  /** HTTP/1.1: time allowed to send the whole request. */
  requestTimeoutMs?: number;
  /** HTTP/1.1: how long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs?: number;
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

  const h1 = http.createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      maxHeaderSize: options.maxHeaderListSize ?? 64 * 1024,
    },
    handler as never,
  );
  const h2 = http2.createServer(h2Options, handler as never);
  // Errors of one bad client end that connection only, never the process.
  h1.on("clientError", (_err, socket) => socket.destroy());
  const toHttp1 = (socket: Duplex) => {
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
      },
      (socket) => {
        if (socket.alpnProtocol === "h2") h2.emit("connection", socket);
        else toHttp1(socket);
      },
    );
    outer.on("tlsClientError", () => {});
  } else {
    outer = net.createServer((socket) => routeBySniffing(socket, h2, toHttp1));
  }

  h2.on("session", (session) => trackSession(session, sessions, options.idleSessionTimeoutMs ?? 5 * 60_000));
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

/** Hands a cleartext socket to the HTTP/2 server when it opens with the preface, else to HTTP/1.1. */
function routeBySniffing(socket: net.Socket, h2: http2.Http2Server, toHttp1: (socket: Duplex) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const onError = () => socket.destroy();
  socket.on("error", onError);
  const giveUp = setTimeout(() => socket.destroy(), 10_000);
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

/** Remembers a session for shutdown and closes it after a spell with no open streams, as grpc-go's MaxConnectionIdle does. */
function trackSession(session: http2.ServerHttp2Session, sessions: Set<http2.ServerHttp2Session>, idleMs: number): void {
  sessions.add(session);
  let open = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (idleMs <= 0) return;
    idleTimer = setTimeout(() => {
      if (open === 0 && !session.closed) session.close();
    }, idleMs);
    idleTimer.unref();
  };
  armIdle();
  session.on("stream", (stream) => {
    open++;
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    stream.once("close", () => {
      open--;
      if (open === 0 && !session.closed) armIdle();
    });
  });
  session.on("error", () => {});
  session.once("close", () => {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    sessions.delete(session);
  });
}
