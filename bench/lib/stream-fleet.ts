/**
 * Holds many long-lived gRPC streams over a few HTTP/2 connections (at most
 * the server's per-connection stream limit on each), for the chat workloads:
 * thousands of subscribers cost the client little, and every received
 * message is handed over with the stream's index.
 */
import http2 from "node:http2";
import { FrameReader, frameMessage } from "./grpc-frame.js";

export interface FleetStreamSpec {
  /** e.g. "/user.UserService/SubscribeChat". */
  path: string;
  /** Bearer token for stream i. */
  tokenFor(i: number): string;
  /** A request message to send and half-close after (server streaming); undefined keeps the request side open (bidi). */
  request?: Uint8Array;
  /** Called with every message a stream receives, in order. */
  onMessage(i: number, message: Buffer): void;
}

/** Opens one h2c connection and waits for the server's SETTINGS, so its stream limit is known before streams are opened. */
function connect(baseUrl: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    const fail = (err: Error) => reject(err);
    session.once("error", fail);
    session.once("remoteSettings", () => {
      session.off("error", fail);
      session.on("error", () => {});
      resolve(session);
    });
  });
}

/** Many streams of one kind, spread over ceil(count / perConnection) connections. */
export class StreamFleet {
  private readonly sessions: http2.ClientHttp2Session[] = [];
  private readonly streams: http2.ClientHttp2Stream[] = [];
  /** Streams that ended or failed before close() — each one is a subscriber the server dropped. */
  ended = 0;
  firstFailure: string | undefined;
  /** Set by close(), after which stream ends are expected and not counted. */
  private closing = false;

  private constructor(readonly count: number) {}

  /** Connects and opens `count` streams; resolves once every request is on the wire (not once the server has registered them). */
  static async open(baseUrl: string, count: number, perConnection: number, spec: FleetStreamSpec): Promise<StreamFleet> {
    const fleet = new StreamFleet(count);
    const connections = Math.ceil(count / perConnection);
    try {
      for (let c = 0; c < connections; c++) {
        const session = await connect(baseUrl);
        fleet.sessions.push(session);
        const limit = session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
        const here = Math.min(perConnection, count - c * perConnection);
        if (here > limit) throw new Error(`server allows ${limit} streams per connection, the fleet wants ${here}`);
        for (let k = 0; k < here; k++) fleet.openStream(session, c * perConnection + k, spec);
      }
    } catch (err) {
      fleet.close();
      throw err;
    }
    return fleet;
  }

  private openStream(session: http2.ClientHttp2Session, i: number, spec: FleetStreamSpec): void {
    const stream = session.request(
      {
        ":method": "POST",
        ":path": spec.path,
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${spec.tokenFor(i)}`,
      },
      { endStream: false },
    );
    const reader = new FrameReader();
    let done = false;
    const noteEnd = (why: string) => {
      if (done || this.closing) return;
      done = true;
      this.ended++;
      this.firstFailure ??= `stream ${i}: ${why}`;
    };
    stream.on("data", (chunk: Buffer) => reader.push(chunk, (message) => spec.onMessage(i, message)));
    stream.on("trailers", (headers) => noteEnd(`grpc-status ${String(headers["grpc-status"])} ${decodeURIComponent(String(headers["grpc-message"] ?? ""))}`));
    stream.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) noteEnd(`trailers-only grpc-status ${String(headers["grpc-status"])} ${decodeURIComponent(String(headers["grpc-message"] ?? ""))}`);
    });
    stream.on("error", (err: Error) => noteEnd(err.message));
    stream.on("close", () => noteEnd(`closed (rst ${stream.rstCode})`));
    if (spec.request) stream.end(frameMessage(spec.request));
    this.streams.push(stream);
  }

  /** Cancels every stream and closes the connections. */
  close(): void {
    this.closing = true;
    for (const stream of this.streams) if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    for (const session of this.sessions) session.destroy();
    this.streams.length = 0;
    this.sessions.length = 0;
  }
}
