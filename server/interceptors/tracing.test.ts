import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetUserResponseSchema, UserSchema, UserService } from "../../gen/user/user_pb.js";
import { traceStorage } from "../observability/traced-storage.js";
import { createTracing, tracesUrl, type Tracing } from "../observability/tracing-setup.js";
import type { Storage } from "../storage/ports.js";
import { openSqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { createTracingInterceptor, traceIdKey } from "./tracing.js";

const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const callerSpan = "00f067aa0ba902b7";

let raw: Storage;
let storage: Storage;
let tracing: Tracing;
const exporter = new InMemorySpanExporter();
const seenTraceIds: (string | undefined)[] = [];

beforeAll(async () => {
  raw = await openSqliteStorage({ file: ":memory:" });
  tracing = createTracing({ endpoint: "http://unused", serviceName: "tracing-test", exporter });
  storage = traceStorage(raw, tracing.tracer);
});
afterAll(async () => {
  await tracing.shutdown();
  await raw.close();
});

const impl: Partial<ServiceImpl<typeof UserService>> = {
  async getUser(req, ctx) {
    seenTraceIds.push(ctx.values.get(traceIdKey));
    const user = await storage.users.getById(Number(req.userId));
    if (req.userId === 500n) throw new ConnectError("boom", Code.Internal);
    if (req.userId === 404n) throw new ConnectError("no such user", Code.NotFound);
    return create(GetUserResponseSchema, { found: user !== undefined });
  },
  async *listUsers() {
    // Storage work done while streaming must still nest under the call's span.
    yield create(UserSchema, { id: 1n });
    await storage.users.count();
    yield create(UserSchema, { id: 2n });
  },
};

function client(traceparent?: string) {
  const transport = createRouterTransport((router) => router.service(UserService, impl), {
    router: { interceptors: [createTracingInterceptor(tracing)] },
    transport: {
      interceptors: [
        (next) => async (req) => {
          if (traceparent !== undefined) req.header.set("traceparent", traceparent);
          return next(req);
        },
      ],
    },
  });
  return createClient(UserService, transport);
}

async function finished(): Promise<ReadableSpan[]> {
  await tracing.forceFlush();
  const spans = exporter.getFinishedSpans();
  exporter.reset();
  return spans;
}

describe("tracing interceptor and traced storage", () => {
  it("continues the caller's W3C trace and nests storage spans under the server span", async () => {
    await client(`00-${callerTrace}-${callerSpan}-01`).getUser({ userId: 1n });
    const spans = await finished();
    const server = spans.find((s) => s.name === "user.UserService/GetUser");
    const db = spans.find((s) => s.name === "users.getById");
    expect(server?.kind).toBe(SpanKind.SERVER);
    expect(server?.spanContext().traceId).toBe(callerTrace);
    expect(server?.parentSpanContext?.spanId).toBe(callerSpan);
    expect(server?.attributes).toMatchObject({ "rpc.system": "connect_rpc", "rpc.service": "user.UserService", "rpc.method": "GetUser" });
    expect(db?.kind).toBe(SpanKind.CLIENT);
    expect(db?.spanContext().traceId).toBe(callerTrace);
    expect(db?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(db?.attributes).toMatchObject({ "db.system.name": "sqlite", "db.operation.name": "users.getById" });
    expect(seenTraceIds.at(-1)).toBe(callerTrace);
  });

  it("starts a new trace when the caller sends none, and marks only server faults as errors", async () => {
    await client().getUser({ userId: 2n });
    await expect(client().getUser({ userId: 404n })).rejects.toThrow();
    await expect(client().getUser({ userId: 500n })).rejects.toThrow();
    const servers = (await finished()).filter((s) => s.kind === SpanKind.SERVER);
    expect(servers).toHaveLength(3);
    expect(servers.every((s) => s.parentSpanContext === undefined)).toBe(true);
    expect(new Set(servers.map((s) => s.spanContext().traceId)).size).toBe(3);
    expect(servers.map((s) => [s.status.code, s.attributes["rpc.connect_rpc.error_code"]])).toEqual([
      [SpanStatusCode.UNSET, undefined],
      [SpanStatusCode.UNSET, "not_found"],
      [SpanStatusCode.ERROR, "internal"],
    ]);
  });

  it("keeps a stream's span open until its end, with storage work inside it", async () => {
    const got = [];
    for await (const u of client(`00-${callerTrace}-${callerSpan}-01`).listUsers({})) got.push(u);
    expect(got).toHaveLength(2);
    const spans = await finished();
    const server = spans.find((s) => s.name === "user.UserService/ListUsers");
    const count = spans.find((s) => s.name === "users.count");
    expect(count?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    // The server span ended after the storage call it contains (OTel's clock anchoring can differ by a few microseconds between spans).
    const endMs = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;
    expect(endMs(server!.endTime)).toBeGreaterThanOrEqual(endMs(count!.endTime) - 0.1);
  });

  it("leaves storage calls made outside any traced call alone", async () => {
    await storage.users.count();
    expect(await finished()).toEqual([]);
  });

  it("derives the OTLP/HTTP traces URL from the base endpoint", () => {
    expect(tracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces");
    expect(tracesUrl("http://collector:4318/")).toBe("http://collector:4318/v1/traces");
  });
});
