import { Code, ConnectError } from "@connectrpc/connect";

/** How a failed attempt ended, as far as retrying and load balancing care. */
export interface AttemptFailure {
  /** The error the caller sees: connection losses are UNAVAILABLE, as in gRPC core. */
  error: ConnectError;
  /** True only when the request provably never reached a server (nothing was processed). */
  notSent: boolean;
  /** True when the backend's connection failed, so the balancer should stop sending to it. */
  connectionFailed: boolean;
}

/** Errors from connect(2)/DNS: the request had no connection to travel on. */
const notConnectedCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);

/** Errors that mean the connection died under an open call; the server may have acted on it. */
const droppedCodes = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_PING_CANCEL",
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
]);

interface NodeErrorLike {
  code?: string;
  syscall?: string;
  message: string;
}

function errorChain(reason: unknown): NodeErrorLike[] {
  const chain: NodeErrorLike[] = [];
  let current: unknown = reason;
  while (current instanceof Error && chain.length < 10) {
    const props = current as Error & { code?: unknown; syscall?: unknown };
    chain.push({
      code: typeof props.code === "string" ? props.code : undefined,
      syscall: typeof props.syscall === "string" ? props.syscall : undefined,
      message: current.message,
    });
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/**
 * Classifies one failed attempt so that retries stay safe: connect-node reports
 * a dropped connection as CANCELED or ABORTED and a refused HTTP/2 stream as
 * INTERNAL, which would hide from the caller that the backend went away, and
 * only a refused connection or stream proves the server never saw the call.
 */
export function classifyFailure(reason: unknown, callerSignal: AbortSignal | undefined): AttemptFailure {
  const error = ConnectError.from(reason);
  if (callerSignal?.aborted === true) return { error, notSent: false, connectionFailed: false };
  const chain = errorChain(reason);
  const unavailable = (message: string) => new ConnectError(message, Code.Unavailable, error.metadata, undefined, reason);

  const notConnected = chain.find(
    (e) => (e.code !== undefined && notConnectedCodes.has(e.code)) || (e.code === "ETIMEDOUT" && e.syscall === "connect"),
  );
  if (notConnected !== undefined) {
    return { error: error.code === Code.Unavailable ? error : unavailable(notConnected.message), notSent: true, connectionFailed: true };
  }
  // The server refused the stream (REFUSED_STREAM, or a GOAWAY that excluded it): by HTTP/2 rules it was not processed.
  const refused = chain.find(
    (e) => e.message.includes("NGHTTP2_REFUSED_STREAM") || e.code === "ERR_HTTP2_GOAWAY_SESSION" || e.message.includes("REFUSED_STREAM"),
  );
  if (refused !== undefined) return { error: unavailable(`stream refused by the server: ${refused.message}`), notSent: true, connectionFailed: false };

  const dropped =
    chain.some((e) => e.code !== undefined && droppedCodes.has(e.code)) ||
    // connect-node reports a session that closed under an open stream as this CANCELED, with no cause.
    (error.code === Code.Canceled && error.rawMessage.startsWith("http/2 stream closed with error code CANCEL"));
  if (dropped) return { error: unavailable(`connection lost: ${error.rawMessage}`), notSent: false, connectionFailed: true };

  return { error, notSent: false, connectionFailed: false };
}
