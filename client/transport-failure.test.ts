import http2 from "node:http2";
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { UserService } from "../gen/user/user_pb.js";
import { classifyFailure } from "./transport-failure.js";

const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length > 0) closers.pop()?.();
});

async function listen(server: net.Server | http2.Http2Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function failureOf(url: string, protocol: "grpc" | "connect" = "grpc", signal?: AbortSignal) {
  const transport = protocol === "grpc" ? createGrpcTransport({ baseUrl: url }) : createConnectTransport({ baseUrl: url, httpVersion: "2" });
  const reason = await createClient(UserService, transport)
    .getUser({ userId: 1n }, { timeoutMs: 3000, signal })
    .then(() => undefined, (e: unknown) => e);
  expect(reason).toBeDefined();
  return classifyFailure(reason, signal);
}

async function unusedUrl(): Promise<string> {
  const server = net.createServer();
  const url = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

describe("classifyFailure", () => {
  it.each(["grpc", "connect"] as const)("a refused connection (%s) is UNAVAILABLE and provably not sent", async (protocol) => {
    const failure = await failureOf(await unusedUrl(), protocol);
    expect(failure.error.code).toBe(Code.Unavailable);
    expect(failure.notSent).toBe(true);
    expect(failure.connectionFailed).toBe(true);
  });

  it("a connection dropped after the server received the call is UNAVAILABLE but may have been processed", async () => {
    const server = http2.createServer();
    server.on("stream", (stream) => stream.session?.destroy());
    const failure = await failureOf(await listen(server));
    expect(failure.error.code).toBe(Code.Unavailable);
    expect(failure.error.rawMessage).toMatch(/^connection lost/);
    expect(failure.notSent).toBe(false);
    expect(failure.connectionFailed).toBe(true);
  });

  it("a stream the server refused (REFUSED_STREAM) was not processed and may be sent again", async () => {
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.on("error", () => {});
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    const failure = await failureOf(await listen(server));
    expect(failure.error.code).toBe(Code.Unavailable);
    expect(failure.notSent).toBe(true);
    expect(failure.connectionFailed).toBe(false);
  });

  it("a GOAWAY that excludes the stream counts as refused", async () => {
    const server = http2.createServer();
    server.on("session", (session) => session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0));
    const failure = await failureOf(await listen(server));
    expect(failure.error.code).toBe(Code.Unavailable);
    expect(failure.notSent).toBe(true);
  });

  it("the caller's own cancellation stays CANCELLED and is not retried", async () => {
    const server = http2.createServer();
    server.on("stream", () => {});
    const url = await listen(server);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const failure = await failureOf(url, "grpc", controller.signal);
    expect(failure.error.code).toBe(Code.Canceled);
    expect(failure.notSent).toBe(false);
    expect(failure.connectionFailed).toBe(false);
  });

  it("errors a server sent keep their code", () => {
    const failure = classifyFailure(new ConnectError("user 5 not found", Code.NotFound), undefined);
    expect(failure).toMatchObject({ notSent: false, connectionFailed: false });
    expect(failure.error.code).toBe(Code.NotFound);
    const shutdown = classifyFailure(new ConnectError("server is shutting down", Code.Unavailable), undefined);
    expect(shutdown).toMatchObject({ notSent: false, connectionFailed: false });
  });
});
