import http from "node:http";
import type http2 from "node:http2";
import https from "node:https";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Protocol } from "./protocol.js";

/** HTTP/2 keep-alive, as the seed's channel options (keepalive_time 30 s, keepalive_timeout 5 s). */
export interface KeepaliveOptions {
  /** PING an open connection after this much silence, to find dead peers and keep NATs open. */
  pingIntervalMs: number;
  /** A PING unanswered for this long closes the connection and its calls. */
  pingTimeoutMs: number;
  /** Close a connection that has carried no call for this long. */
  idleConnectionTimeoutMs: number;
}

export const defaultKeepalive: KeepaliveOptions = {
  pingIntervalMs: 30_000,
  pingTimeoutMs: 5_000,
  idleConnectionTimeoutMs: 300_000,
};

/** Certificates for https:// addresses; PEM text or buffers. */
export interface TlsOptions {
  /** Trusted CA certificates, e.g. a private CA; the system store is used when omitted. */
  ca?: string | Buffer;
  /** Client certificate and key, for servers that require mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface ConnectionOptions {
  protocol: Protocol;
  /** HTTP/2 (one multiplexed connection) unless "1.1" is asked for Connect or gRPC-Web; gRPC is always HTTP/2. */
  httpVersion: "1.1" | "2";
  /** Protobuf binary on the wire; JSON is possible with Connect and is its default. */
  useBinaryFormat: boolean;
  keepalive: KeepaliveOptions;
  tls?: TlsOptions;
}

/**
 * Guards against two connect-node 2.1 keep-alive races that crash the
 * process: the manager drops its "error" listener when a connection leaves
 * the open state, so a connection destroyed by a PING timeout can emit
 * "error" with nobody listening; and a ping timer can fire on a session that
 * was just destroyed, where Node's ping() throws (connectrpc/connect-es#1795).
 * Every session gets a listener that only keeps the process alive (the calls
 * on it fail on their own), and ping() on a destroyed session reports an
 * error to its callback instead of throwing.
 */
class GuardedSessionManager extends Http2SessionManager {
  private readonly guarded = new WeakSet<http2.ClientHttp2Session>();

  override async request(...args: Parameters<Http2SessionManager["request"]>): ReturnType<Http2SessionManager["request"]> {
    const stream = await super.request(...args);
    const session = stream.session as http2.ClientHttp2Session | undefined;
    if (session !== undefined && !this.guarded.has(session)) {
      this.guarded.add(session);
      session.on("error", () => undefined);
      const ping = session.ping.bind(session) as (...a: unknown[]) => boolean;
      (session as { ping: (...a: unknown[]) => boolean }).ping = (...a: unknown[]) => {
        if (!session.destroyed) return ping(...a);
        const callback = a.find((x): x is (err: Error, duration: number, payload: Buffer) => void => typeof x === "function");
        callback?.(new Error("the HTTP/2 session was destroyed"), 0, Buffer.alloc(8));
        return false;
      };
    }
    return stream;
  }
}

/** One backend address: every call to it shares one connection (HTTP/2) or one keep-alive agent (HTTP/1.1). */
export interface BackendConnection {
  readonly baseUrl: string;
  /** Runs the given interceptors; what application calls use. */
  readonly transport: Transport;
  /** The same connection without interceptors, for health checks that should not be logged or authenticated. */
  readonly bareTransport: Transport;
  /** Closes the connection and every call on it. */
  close(): void;
}

/** Opens (lazily: on the first call) the connection to one backend with the chosen protocol. */
export function openBackendConnection(baseUrl: string, options: ConnectionOptions, interceptors: Interceptor[]): BackendConnection {
  const httpVersion = options.protocol === "grpc" ? "2" : options.httpVersion;
  const tls = options.tls ?? {};
  let sessionManager: Http2SessionManager | undefined;
  let agent: http.Agent | undefined;
  if (httpVersion === "2") {
    sessionManager = new GuardedSessionManager(
      baseUrl,
      {
        pingIntervalMs: options.keepalive.pingIntervalMs,
        pingTimeoutMs: options.keepalive.pingTimeoutMs,
        idleConnectionTimeoutMs: options.keepalive.idleConnectionTimeoutMs,
      },
      { ...tls },
    );
  } else {
    const agentOptions = { keepAlive: true, keepAliveMsecs: options.keepalive.pingIntervalMs };
    agent = baseUrl.startsWith("https:") ? new https.Agent({ ...agentOptions, ...tls }) : new http.Agent(agentOptions);
  }
  const useBinaryFormat = options.useBinaryFormat;
  const make = (interceptorList: Interceptor[]): Transport => {
    const common = { baseUrl, useBinaryFormat, interceptors: interceptorList };
    if (sessionManager !== undefined) {
      if (options.protocol === "grpc") return createGrpcTransport({ ...common, sessionManager });
      if (options.protocol === "grpc-web") return createGrpcWebTransport({ ...common, httpVersion: "2", sessionManager });
      return createConnectTransport({ ...common, httpVersion: "2", sessionManager });
    }
    if (options.protocol === "grpc-web") return createGrpcWebTransport({ ...common, httpVersion: "1.1", nodeOptions: { agent } });
    return createConnectTransport({ ...common, httpVersion: "1.1", nodeOptions: { agent } });
  };
  return {
    baseUrl,
    transport: make(interceptors),
    bareTransport: make([]),
    close() {
      sessionManager?.abort();
      agent?.destroy();
    },
  };
}
