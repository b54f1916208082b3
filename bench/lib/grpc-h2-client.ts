/**
 * A tiny gRPC-over-h2c client on node:http2, used for probes, seeding and the
 * streaming workload, so the client side costs far less than the servers measured.
 */
import http2 from "node:http2";
import { FrameReader, frameMessage } from "./grpc-frame.js";

export interface GrpcCallResult {
  /** grpc-status (from trailers or a trailers-only response); -1 if absent. */
  status: number;
  statusMessage: string;
  httpStatus: number;
  /** Messages received, unless a counting callback consumed them. */
  messages: Buffer[];
  count: number;
  /** performance.now() at request start, first message and close. */
  startedAt: number;
  firstMessageAt: number | undefined;
  endedAt: number;
}

export interface CallOptions {
  /** Extra request headers, e.g. { authorization: "Bearer …" }. */
  headers?: Record<string, string>;
  /** Called per message; when given, messages are not kept. */
  onMessage?: (message: Buffer) => void;
  timeoutMs?: number;
}

/** One HTTP/2 connection to a gRPC server. */
export class GrpcH2Client {
  private readonly session: http2.ClientHttp2Session;

  constructor(baseUrl: string) {
    this.session = http2.connect(baseUrl);
    this.session.on("error", () => {});
  }

  /** Sends the given serialized messages (one for unary/server-streaming, many for client-streaming) and collects the reply. */
  call(path: string, requests: Iterable<Uint8Array>, opts: CallOptions = {}): Promise<GrpcCallResult> {
    return new Promise((resolve, reject) => {
      const startedAt = performance.now();
      const stream = this.session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...opts.headers,
      });
      const result: GrpcCallResult = {
        status: -1, statusMessage: "", httpStatus: 0, messages: [], count: 0,
        startedAt, firstMessageAt: undefined, endedAt: 0,
      };
      const reader = new FrameReader();
      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        const status = headers["grpc-status"];
        if (status !== undefined) {
          result.status = Number(status);
          result.statusMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
        }
      };
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`${path}: no reply within ${opts.timeoutMs ?? 60_000} ms`));
      }, opts.timeoutMs ?? 60_000);
      stream.on("response", (headers) => {
        result.httpStatus = Number(headers[":status"] ?? 0);
        readStatus(headers);
      });
      stream.on("trailers", readStatus);
      stream.on("data", (chunk: Buffer) => {
        reader.push(chunk, (message) => {
          result.firstMessageAt ??= performance.now();
          result.count++;
          if (opts.onMessage) opts.onMessage(message);
          else result.messages.push(Buffer.from(message));
        });
      });
      stream.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on("close", () => {
        clearTimeout(timer);
        result.endedAt = performance.now();
        resolve(result);
      });
      for (const request of requests) stream.write(frameMessage(request));
      stream.end();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.session.close(() => resolve()));
  }
}

/** Throws unless the call ended with grpc-status 0. */
export function expectOk(path: string, result: GrpcCallResult): GrpcCallResult {
  if (result.status !== 0) {
    throw new Error(`${path}: grpc-status ${result.status} ${result.statusMessage} (HTTP ${result.httpStatus})`);
  }
  return result;
}
