/**
 * Operations end to end: gRPC health (grpc-js, python grpcio and connect
 * clients), /healthz and /readyz, Prometheus metrics per protocol, the one
 * JSON log line per call, and OTLP span export to a receiver in the test.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { service as grpcHealthService } from "grpc-health-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as S,
} from "../gen/grpc/health/v1/health_pb.js";
import type { ChatBus } from "../server/chat/chat-bus.js";
import { createInProcessBus } from "../server/chat/chat-bus.js";
import { settingDocs } from "../server/config.js";
import type { Storage } from "../server/storage/ports.js";
import { openSqliteStorage, sqliteFileIn } from "../server/storage/sqlite/sqlite-storage.js";
import { freePort } from "./support/free-port.js";
import { clientsFor, loginToken, protocols, type Protocol } from "./support/clients.js";
import { startOtlpReceiver, type OtlpReceiver } from "./support/otlp-receiver.js";
import { scrape, sumOf, valueOf, type Sample } from "./support/prometheus-text.js";
import { spawnServer } from "./support/spawn-server.js";
import { requireTool } from "./support/tools.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Open a Watch over gRPC (HTTP/2) whose statuses can be pulled one at a time. */
function watchHealth(url: string, service: string) {
  const ac = new AbortController();
  const client = createClient(Health, createGrpcTransport({ baseUrl: url }));
  const it = client.watch({ service }, { signal: ac.signal })[Symbol.asyncIterator]();
  return {
    next: async (): Promise<S | ConnectError | "done"> => {
      try {
        const r = await it.next();
        return r.done === true ? "done" : r.value.status;
      } catch (error) {
        return ConnectError.from(error);
      }
    },
    cancel: () => ac.abort(),
  };
}

/** grpc-js with the health service definition from grpc-health-check: what Kubernetes-style probes do. */
function grpcJsCheck(port: number, service: string): Promise<{ status?: string | number; code?: number }> {
  const HealthClient = grpc.makeGenericClientConstructor(grpcHealthService, "Health");
  const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (req: { service: string }) => Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, req))),
      (buf: Buffer) => fromBinary(HealthCheckResponseSchema, buf),
      { service },
      (error: grpc.ServiceError | null, res?: { status: number }) => {
        client.close();
        resolve(error !== null ? { code: error.code } : { status: res?.status });
      },
    );
  });
}

/** Storage and bus whose health the test can switch, wrapped around the real SQLite engine. */
async function switchableDeps(dataDir: string) {
  const real = await openSqliteStorage({ file: sqliteFileIn(dataDir) });
  const flags = { storageDown: false, busDown: false };
  const storage: Storage = {
    engine: real.engine,
    users: real.users,
    chat: real.chat,
    ping: () => (flags.storageDown ? Promise.reject(new Error("disk unplugged")) : real.ping()),
    close: () => real.close(),
  };
  const realBus = createInProcessBus();
  const bus: ChatBus = { ...realBus, healthy: () => !flags.busDown };
  return { storage, bus, flags, close: async () => (await realBus.close(), await real.close()) };
}

const until = async (predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("gRPC health and HTTP probes", () => {
  let server: TestServer;
  let deps: Awaited<ReturnType<typeof switchableDeps>>;

  beforeAll(async () => {
    deps = await switchableDeps(mkdtempSync(path.join(tmpdir(), "users-health-")));
    server = await startTestServer({
      env: { HEALTH_CHECK_INTERVAL_MS: "100", SHUTDOWN_TIMEOUT_MS: "300" },
      deps: { storage: deps.storage, bus: deps.bus },
    });
  });
  afterAll(async () => {
    await server?.close();
    await deps?.close();
  });
  afterEach(async () => {
    deps.flags.storageDown = false;
    deps.flags.busDown = false;
    await until(() => server.app.health.get("user.UserService") === "SERVING", "recovery");
  });

  it("answers Check for the server and each service over h2c, as grpc-js and Kubernetes probes call it", async () => {
    expect(await grpcJsCheck(server.port, "")).toEqual({ status: S.SERVING });
    expect(await grpcJsCheck(server.port, "user.UserService")).toEqual({ status: S.SERVING });
    expect(await grpcJsCheck(server.port, "user.AuthService")).toEqual({ status: S.SERVING });
    expect(await grpcJsCheck(server.port, "no.Such")).toEqual({ code: grpc.status.NOT_FOUND });
  });

  it("answers Check to python grpcio (C core), without a token", async () => {
    await requireTool("/usr/bin/python3", ["-c", "import grpc"], "python3-grpcio");
    const script = path.join(import.meta.dirname, "support", "python-grpc-client.py");
    const request = Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" }))).toString("hex");
    const { stdout } = await run("/usr/bin/python3", [
      script,
      `127.0.0.1:${server.port}`,
      "",
      JSON.stringify([{ kind: "unary", path: "/grpc.health.v1.Health/Check", requests: [request] }]),
    ]);
    const [result] = JSON.parse(stdout) as { code: number; responses: string[] }[];
    expect(result?.code).toBe(0);
    expect(fromBinary(HealthCheckResponseSchema, Buffer.from(result?.responses[0] ?? "", "hex")).status).toBe(S.SERVING);
  });

  it("follows storage: Watch, Check and /readyz go NOT_SERVING when it fails and back when it answers", async () => {
    const watch = watchHealth(server.url, "");
    expect(await watch.next()).toBe(S.SERVING);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    deps.flags.storageDown = true;
    expect(await watch.next()).toBe(S.NOT_SERVING);
    expect(await grpcJsCheck(server.port, "")).toEqual({ status: S.NOT_SERVING });
    expect(await grpcJsCheck(server.port, "user.AuthService")).toEqual({ status: S.NOT_SERVING });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "storage unavailable" });
    // Liveness does not depend on storage: restarting the process would not fix the database.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    deps.flags.storageDown = false;
    expect(await watch.next()).toBe(S.SERVING);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    watch.cancel();
    expect(server.logs.some((l) => l["msg"] === "health: NOT_SERVING (storage does not answer)" && l["reason"] === "storage: disk unplugged")).toBe(true);
  });

  it("drives the container HEALTHCHECK script: 0 while ready, 1 when storage fails or nothing listens", { timeout: 120_000 }, async () => {
    const probe = (port: number) => runNode([path.join(projectRoot, "server", "health", "readiness-probe.ts")], { PORT: String(port) });
    const [ready, nobody] = await Promise.all([probe(server.port), probe(await freePort())]);
    expect(ready.code).toBe(0);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain("readyz failed: connect ECONNREFUSED");
    deps.flags.storageDown = true;
    await until(() => server.app.health.get("") === "NOT_SERVING", "NOT_SERVING");
    const down = await probe(server.port);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe("readyz answered 503\n");
  });

  it("marks only user.UserService down while the chat broker is", async () => {
    const watch = watchHealth(server.url, "user.UserService");
    expect(await watch.next()).toBe(S.SERVING);
    deps.flags.busDown = true;
    expect(await watch.next()).toBe(S.NOT_SERVING);
    expect(await grpcJsCheck(server.port, "")).toEqual({ status: S.SERVING });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    deps.flags.busDown = false;
    expect(await watch.next()).toBe(S.SERVING);
    watch.cancel();
  });
});

describe("health during shutdown", () => {
  it("goes NOT_SERVING for every watcher as soon as close begins, then ends their streams with UNAVAILABLE", async () => {
    const server = await startTestServer({ env: { SHUTDOWN_TIMEOUT_MS: "300" } });
    const overall = watchHealth(server.url, "");
    const users = watchHealth(server.url, "user.UserService");
    expect(await overall.next()).toBe(S.SERVING);
    expect(await users.next()).toBe(S.SERVING);
    const closing = server.close();
    expect(await overall.next()).toBe(S.NOT_SERVING);
    expect(await users.next()).toBe(S.NOT_SERVING);
    const ended = await overall.next();
    expect(ended).toBeInstanceOf(ConnectError);
    expect((ended as ConnectError).code).toBe(Code.Unavailable);
    expect((ended as ConnectError).rawMessage).toBe("server is shutting down");
    await closing;
    const watchLines = server.logs.filter((l) => l["msg"] === "rpc" && l["procedure"] === "grpc.health.v1.Health/Watch");
    expect(watchLines.map((l) => [l["code"], l["messagesOut"]])).toEqual([
      ["Unavailable", 2],
      ["Unavailable", 2],
    ]);
  });
});

describe("metrics", () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
  });
  afterAll(async () => server?.close());

  const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string>) =>
    valueOf(after, name, labels) - valueOf(before, name, labels);

  it.each(protocols)("counts exactly the %s calls made, by method and code", async (protocol: Protocol) => {
    const authed = clientsFor(protocol, server.url, { token });
    const anonymous = clientsFor(protocol, server.url);
    const before = await scrape(`${server.url}/metrics`);
    await authed.users.getUser({ userId: 1n });
    await authed.users.getUser({ userId: 1n });
    await authed.users.getUser({ userId: 1n });
    await expect(anonymous.users.getUser({ userId: 1n })).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(anonymous.users.createUser({ username: "x", email: "bad", password: "p" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    const listed = [];
    for await (const u of authed.users.listUsers({ pageSize: 10 })) listed.push(u);
    const after = await scrape(`${server.url}/metrics`);

    const get = { grpc_type: "unary", grpc_service: "user.UserService", grpc_method: "GetUser" };
    expect(delta(before, after, "grpc_server_started_total", get)).toBe(4);
    expect(delta(before, after, "grpc_server_handled_total", { ...get, grpc_code: "OK" })).toBe(3);
    expect(delta(before, after, "grpc_server_handled_total", { ...get, grpc_code: "Unauthenticated" })).toBe(1);
    expect(delta(before, after, "grpc_server_msg_received_total", get)).toBe(4);
    expect(delta(before, after, "grpc_server_msg_sent_total", get)).toBe(3);
    expect(delta(before, after, "grpc_server_handling_seconds_count", get)).toBe(4);
    const create = { grpc_type: "unary", grpc_service: "user.UserService", grpc_method: "CreateUser" };
    expect(delta(before, after, "grpc_server_handled_total", { ...create, grpc_code: "InvalidArgument" })).toBe(1);
    expect(delta(before, after, "grpc_server_handled_total", { ...create, grpc_code: "OK" })).toBe(0);
    const list = { grpc_type: "server_stream", grpc_service: "user.UserService", grpc_method: "ListUsers" };
    expect(delta(before, after, "grpc_server_handled_total", { ...list, grpc_code: "OK" })).toBe(1);
    expect(delta(before, after, "grpc_server_msg_sent_total", list)).toBe(listed.length);
    expect(listed.length).toBeGreaterThan(0);
    // Every call made, and nothing else, was counted.
    expect(sumOf(after, "grpc_server_started_total") - sumOf(before, "grpc_server_started_total")).toBe(6);
  });

  it("shows open streams and chat subscribers while a SubscribeChat is open, and counts its end as Canceled", async () => {
    const { users } = clientsFor("grpc", server.url, { token });
    const ac = new AbortController();
    const stream = users.subscribeChat({}, { signal: ac.signal })[Symbol.asyncIterator]();
    const subscribe = { grpc_type: "server_stream", grpc_service: "user.UserService", grpc_method: "SubscribeChat" };
    await until(async () => valueOf(await scrape(`${server.url}/metrics`), "users_chat_subscribers") === 1, "a chat subscriber");
    const open = await scrape(`${server.url}/metrics`);
    expect(valueOf(open, "grpc_server_open_streams", subscribe)).toBe(1);
    expect(valueOf(open, "users_open_connections", { http_version: "2" })).toBeGreaterThanOrEqual(1);
    ac.abort();
    await stream.next().catch(() => undefined);
    await until(async () => valueOf(await scrape(`${server.url}/metrics`), "grpc_server_open_streams", subscribe) === 0, "the stream to close");
    const closed = await scrape(`${server.url}/metrics`);
    expect(valueOf(closed, "users_chat_subscribers")).toBe(0);
    expect(valueOf(closed, "grpc_server_handled_total", { ...subscribe, grpc_code: "Canceled" })).toBe(1);
    const line = server.logs.find((l) => l["msg"] === "rpc" && l["procedure"] === "user.UserService/SubscribeChat");
    expect(line?.["code"]).toBe("Canceled");
  });

  it("exports process metrics in the Prometheus text format", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      expect(text).toContain(`\n${name} `);
    }
    expect(text).toContain("# TYPE grpc_server_handling_seconds histogram");
  });

  it("serves /metrics on METRICS_PORT instead of the public port when it is set", async () => {
    const metricsPort = await freePort();
    const separate = await startTestServer({ env: { METRICS_PORT: String(metricsPort) } });
    try {
      expect((await fetch(`${separate.url}/metrics`)).status).toBe(404);
      const samples = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
    } finally {
      await separate.close();
    }
    // Closed with the app.
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });
});

describe("one log line per call", () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
  });
  afterAll(async () => server?.close());

  it.each(protocols)("names the %s protocol, the procedure and the outcome, and echoes the request id", async (protocol) => {
    const { users } = clientsFor(protocol, server.url, { token });
    const requestId = `ops-${protocol}-1`;
    let echoed: string | null = null;
    await users.getUser({ userId: 1n }, { headers: { "x-request-id": requestId }, onHeader: (h) => (echoed = h.get("x-request-id")) });
    expect(echoed).toBe(requestId);
    const lines = server.logs.filter((l) => l["requestId"] === requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "rpc",
      level: 30,
      procedure: "user.UserService/GetUser",
      protocol,
      streamKind: "unary",
      code: "OK",
      messagesIn: 1,
      messagesOut: 1,
      clientAddress: "127.0.0.1",
    });
    expect(lines[0]).not.toHaveProperty("traceId");
  });

  it("logs refusals by auth with their code, and never the password or the token", async () => {
    const password = TEST_ADMIN_PASSWORD;
    const fresh = await loginToken(server.url, "admin", password);
    const { users } = clientsFor("grpc", server.url, { token: "not-a-real-token" });
    await expect(users.getUser({ userId: 1n }, { headers: { "x-request-id": "ops-bad-token" } })).rejects.toMatchObject({ code: Code.Unauthenticated });
    const line = server.logs.find((l) => l["requestId"] === "ops-bad-token");
    expect(line).toMatchObject({ code: "Unauthenticated", procedure: "user.UserService/GetUser" });
    const everything = JSON.stringify(server.logs);
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(fresh);
    expect(everything).not.toContain(token);
  });
});

describe("tracing", () => {
  let receiver: OtlpReceiver;
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    server = await startTestServer({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "users-under-test" } });
    token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("exports a server span carrying the caller's trace id, with storage spans beneath it, over OTLP/HTTP protobuf", async () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const parentId = "b7ad6b7169203331";
    const { users } = clientsFor("grpc", server.url, { token });
    await users.getUser({ userId: 1n }, { headers: { traceparent: `00-${traceId}-${parentId}-01`, "x-request-id": "traced-1" } });
    await server.app.tracing?.forceFlush();
    const span = await receiver.waitFor((s) => s.traceId === traceId && s.name === "user.UserService/GetUser");
    expect(span).toMatchObject({ parentSpanId: parentId, kind: 2, serviceName: "users-under-test" });
    expect(span.attributes).toMatchObject({ "rpc.system": "grpc", "rpc.service": "user.UserService", "rpc.method": "GetUser", "rpc.grpc.status_code": "0" });
    const children = receiver.spans.filter((s) => s.parentSpanId === span.spanId);
    expect(children.length).toBeGreaterThan(0);
    expect(children.every((c) => c.traceId === traceId && c.kind === 3)).toBe(true);
    expect(children.map((c) => c.name)).toContain("users.getById");
    expect(receiver.requests.every((r) => r.path === "/v1/traces" && r.contentType === "application/x-protobuf")).toBe(true);
    // The log line carries the same trace id, so logs and traces join up.
    expect(server.logs.find((l) => l["requestId"] === "traced-1")?.["traceId"]).toBe(traceId);
  });

  it("is off without OTEL_EXPORTER_OTLP_ENDPOINT: no tracer, and storage calls reach the adapter unwrapped", async () => {
    const storage = await openSqliteStorage({ file: sqliteFileIn(mkdtempSync(path.join(tmpdir(), "users-untraced-"))) });
    const plain = await startTestServer({ deps: { storage } });
    try {
      expect(plain.app.tracing).toBeUndefined();
      // The user cache wraps the user store only; a tracing wrapper would also replace the chat store.
      expect(plain.app.storage.chat).toBe(storage.chat);
      const t = await loginToken(plain.url, "admin", TEST_ADMIN_PASSWORD);
      await clientsFor("connect", plain.url, { token: t }).users.getUser({ userId: 1n }, { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
      expect(plain.logs.filter((l) => l["msg"] === "rpc").every((l) => !("traceId" in l))).toBe(true);
    } finally {
      await plain.close();
      await storage.close();
    }
  });
});

/** Runs a TypeScript entry point through tsx in a clean environment and collects how it ended. */
function runNode(args: string[], env: Record<string, string>, cwd = projectRoot): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", pathToFileURL(path.join(projectRoot, "node_modules", "tsx", "dist", "loader.mjs")).href, ...args],
      { cwd, env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr }),
    );
  });
}

/** Runs server/main.ts the way `npm start` would, without waiting for "listening". */
function runMain(env: Record<string, string>, args: string[] = [], cwd = projectRoot) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "users-config-"));
  return runNode([path.join(projectRoot, "server", "main.ts"), ...args], { DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", ...env }, cwd);
}

// Each of these starts a process through tsx, which is slow on a busy machine; nothing here asserts speed.
describe("configuration", { timeout: 120_000 }, () => {
  it("refuses a bad setting with exit code 2 and a message naming the variable", async () => {
    const result = await runMain({ PORT: "abc" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PORT: must be a whole number, got "abc"');
    expect(result.stderr).toContain("Run with --help to see every setting.");
    expect(result.stdout).not.toContain('"msg":"listening"');
  });

  it("names every bad variable at once", async () => {
    const result = await runMain({ BCRYPT_COST: "99", LOG_LEVEL: "loud", NODE_ENV: "production" });
    expect(result.code).toBe(2);
    for (const name of ["BCRYPT_COST", "LOG_LEVEL"]) expect(result.stderr).toContain(`  - ${name}:`);
  });

  it("refuses production without JWT_SECRET", async () => {
    const result = await runMain({ NODE_ENV: "production" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("JWT_SECRET: required when NODE_ENV=production");
  });

  it("reads a .env file in the working directory", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "users-dotenv-"));
    writeFileSync(path.join(dir, ".env"), "SHUTDOWN_TIMEOUT_MS=soon\n");
    const result = await runMain({}, [], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('SHUTDOWN_TIMEOUT_MS: must be a whole number, got "soon"');
  });

  it("prints every setting with --help", async () => {
    const result = await runMain({}, ["--help"]);
    expect(result.code).toBe(0);
    for (const doc of settingDocs) expect(result.stdout).toContain(`  ${doc.name} `);
  });

  it("is documented: README.md has a table row for every setting, with its default", () => {
    const readme = path.join(projectRoot, "README.md");
    expect(existsSync(readme), "README.md is missing").toBe(true);
    const rows = new Map<string, string>();
    for (const line of readFileSync(readme, "utf8").split("\n")) {
      const m = /^\|\s*`?([A-Z][A-Z0-9_]*)`?\s*\|/.exec(line);
      if (m?.[1] !== undefined) rows.set(m[1], line);
    }
    const missing = settingDocs.filter((d) => !rows.has(d.name)).map((d) => d.name);
    expect(missing, "settings missing from the README table").toEqual([]);
    // Backticks and bold markers are formatting; a lone "*" is a real default (CORS_ORIGINS).
    const strip = (s: string) => s.replace(/`/g, "").replace(/\*\*/g, "");
    const wrongDefault = settingDocs.filter((d) => !strip(rows.get(d.name) ?? "").includes(d.fallback)).map((d) => d.name);
    expect(wrongDefault, "README rows whose default differs from --help").toEqual([]);
  });
});

describe("a server process at LOG_LEVEL=debug", { timeout: 120_000 }, () => {
  it("writes only JSON lines, shows bodies with secrets redacted, and cannot be made to forge a line", async () => {
    const server = await spawnServer({ LOG_LEVEL: "debug" }, { timeoutMs: 90_000 });
    try {
      const token = await loginToken(server.url, "admin", "admin-test-password");
      const forged = 'evil"}\n{"level":30,"msg":"forged"}\n';
      const anonymous = clientsFor("grpc", server.url);
      await expect(anonymous.users.createUser({ username: forged, email: "e@example.com", password: "signup-password-9" })).rejects.toMatchObject({
        code: Code.InvalidArgument,
      });
      await clientsFor("connect", server.url, { token }).users.getUser({ userId: 1n }, { headers: { "x-request-id": "debug-get" } });
      await until(() => server.logs.some((l) => l["requestId"] === "debug-get"), "the GetUser line");
      for (const line of server.lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
      expect(server.logs.filter((l) => l["msg"] === "forged")).toEqual([]);
      const all = server.lines.join("\n");
      for (const secret of ["admin-test-password", "signup-password-9", token]) expect(all).not.toContain(secret);
      const login = server.logs.find((l) => l["msg"] === "rpc" && l["procedure"] === "user.AuthService/Login");
      expect(login?.["request"]).toEqual({ username: "admin", password: "[redacted]" });
      expect((login?.["response"] as Record<string, unknown>)["accessToken"]).toBe("[redacted]");
      const get = server.logs.find((l) => l["requestId"] === "debug-get");
      expect((get?.["requestHeaders"] as Record<string, unknown>)["authorization"]).toBe("[redacted]");
      expect(get?.["request"]).toEqual({ userId: "1" });
      const create = server.logs.find((l) => l["msg"] === "rpc" && l["procedure"] === "user.UserService/CreateUser");
      expect(create).toMatchObject({ code: "InvalidArgument", protocol: "grpc", level: 30 });
      expect((create?.["request"] as Record<string, unknown>)["username"]).toBe(forged);
    } finally {
      await server.stop();
    }
  });
});

describe("container files", () => {
  const dockerfile = () => readFileSync(path.join(projectRoot, "Dockerfile"), "utf8");
  const compose = () => readFileSync(path.join(projectRoot, "docker-compose.yml"), "utf8");

  it("run entry points that exist in the sources, as a non-root user on a Node LTS image", () => {
    const text = `${dockerfile()}\n${compose()}`;
    const entries = [...text.matchAll(/dist\/([\w/-]+)\.js/g)].map((m) => m[1] as string);
    expect(entries).toContain("server/main");
    expect(entries).toContain("server/health/readiness-probe");
    for (const entry of entries) expect(existsSync(path.join(projectRoot, `${entry}.ts`)), entry).toBe(true);
    expect(dockerfile()).toMatch(/^USER node$/m);
    expect(dockerfile()).toMatch(/^HEALTHCHECK /m);
    const image = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile());
    // Even majors are the LTS lines; 24 is the Active LTS.
    expect(Number(image?.[1])).toBeGreaterThanOrEqual(24);
    expect(Number(image?.[1]) % 2).toBe(0);
  });

  it("keep the build context free of local state and secrets", () => {
    const ignored = readFileSync(path.join(projectRoot, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const entry of ["node_modules", "dist", "data", ".env", ".git"]) expect(ignored).toContain(entry);
  });
});
