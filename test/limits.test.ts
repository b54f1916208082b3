/**
 * Abuse limits on a live server: the call rate limit, message size, deadlines,
 * cancelled and slow streams, and HTTP/2 settings. Each refusal is checked
 * for its code and for leaving data and memory as they were.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, Health } from "../gen/grpc/health/v1/health_pb.js";
import { LoginRequestSchema } from "../gen/user/auth_pb.js";
import { ChatMessageSchema, CreateUserRequestSchema, SubscribeChatRequestSchema, UserStatus, type User } from "../gen/user/user_pb.js";
import { clientsFor, loginToken, protocols, type Protocol } from "./support/clients.js";
import { spawnServer, type SpawnedServer } from "./support/spawn-server.js";
import { openPostgresStorage } from "../server/storage/postgres/postgres-storage.js";
import { adminQuery, servicesAvailable, testDatabaseUrl, testSchema } from "./support/services.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";
import { collect, failure } from "./support/rpc-expect.js";

const PASSWORD = "password123";
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until the condition holds; fails with the last value after timeoutMs. */
async function eventually<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value)) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await sleep(20);
    value = await read();
  }
  return value;
}

/** A gRPC length-prefixed message. */
function envelope(payload: Uint8Array, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, payload]);
}

/** Splits a gRPC(-Web) body into its envelopes. */
function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const length = body.readUInt32BE(at + 1);
    out.push({ flags: body[at] ?? 0, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** A new user made through the app itself (no RPC, so no rate-limit point is spent), and a token for it. */
async function makeUser(server: TestServer, username: string, roles = ["user"]): Promise<{ id: bigint; token: string }> {
  const adminPrincipal = { userId: 1, username: "admin", roles: ["user", "admin"], isAdmin: true };
  const user = await server.app.directory.createUser(adminPrincipal, {
    username,
    email: `${username}@example.com`,
    password: PASSWORD,
    fullName: "",
    avatarUrl: "",
    roles,
    metadata: {},
  });
  const { token } = await server.app.tokens.issue({ userId: user.id, username: user.username, roles: user.roles });
  return { id: BigInt(user.id), token };
}

describe("call rate limit (RATE_LIMIT_PER_MINUTE=1, RATE_LIMIT_BURST=2: three calls a minute per caller)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_PER_MINUTE: "1", RATE_LIMIT_BURST: "2" } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("refuses a principal's fourth call with RESOURCE_EXHAUSTED and a retry delay over every protocol, changing nothing, while others go on", async () => {
    const alice = await makeUser(server, "rl_alice");
    const bob = await makeUser(server, "rl_bob");
    for (const protocol of protocols) {
      expect((await clientsFor(protocol, server.url, { token: alice.token }).auth.whoAmI({})).user?.username).toBe("rl_alice");
    }
    const before = (await server.app.storage.users.getById(Number(alice.id)))?.fullName;
    for (const protocol of protocols) {
      const error = await failure(clientsFor(protocol, server.url, { token: alice.token }).users.updateUser({ userId: alice.id, fullName: "one call too many" }));
      expect([error.code, error.rawMessage]).toEqual([Code.ResourceExhausted, expect.stringMatching(/^rate limit exceeded; retry in \d+ s$/)]);
      const retryAfter = Number(error.metadata.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    expect((await server.app.storage.users.getById(Number(alice.id)))?.fullName).toBe(before);
    expect((await clientsFor("grpc", server.url, { token: bob.token }).users.updateUser({ userId: bob.id, fullName: "Bob" })).user?.fullName).toBe("Bob");
  });

  it("counts anonymous calls per client address, and never the health checks", async () => {
    const anon = () => clientsFor("connect", server.url);
    for (let i = 0; i < 3; i++) {
      expect((await failure(anon().auth.login({ username: `rl_ghost${i}`, password: "wrong-password" }))).code).toBe(Code.Unauthenticated);
    }
    const limited = await failure(anon().auth.login({ username: "admin", password: TEST_ADMIN_PASSWORD }));
    expect([limited.code, limited.rawMessage]).toEqual([Code.ResourceExhausted, expect.stringMatching(/^rate limit exceeded/)]);
    // Sign-ups from the same address are held back the same way: nothing is created.
    const signup = await failure(anon().users.createUser({ username: "rl_signup", email: "rl_signup@example.com", password: PASSWORD }));
    expect(signup.code).toBe(Code.ResourceExhausted);
    expect(await server.app.storage.users.findByLogin("rl_signup")).toBeUndefined();
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    for (let i = 0; i < 5; i++) expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});

describe("message size (MAX_MESSAGE_BYTES 4 MiB)", () => {
  let server: TestServer;
  let adminToken: string;
  beforeAll(async () => {
    server = await startTestServer();
    adminToken = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await server?.close();
  });

  const variants: { protocol: Protocol; binary: boolean }[] = [
    { protocol: "grpc", binary: true },
    { protocol: "grpc-web", binary: true },
    { protocol: "connect", binary: false },
    { protocol: "connect", binary: true },
  ];

  it.each(variants)("refuses a 5 MiB request over $protocol (binary: $binary) with RESOURCE_EXHAUSTED and creates nothing", async ({ protocol, binary }) => {
    const username = `huge_${protocol.replace("-", "")}_${binary ? "b" : "j"}`;
    const c = clientsFor(protocol, server.url, { token: adminToken, binary });
    const error = await failure(c.users.createUser({ username, email: `${username}@example.com`, password: PASSWORD, fullName: "x".repeat(5 * MiB) }));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(await server.app.storage.users.findByLogin(username)).toBeUndefined();
    // Just under the limit, the message reaches the handler, whose own rules refuse the name.
    const under = await failure(c.users.createUser({ username, email: `${username}@example.com`, password: PASSWORD, fullName: "x".repeat(4 * MiB - 1024) }));
    expect(under.code).toBe(Code.InvalidArgument);
    expect(await server.app.storage.users.findByLogin(username)).toBeUndefined();
  });

  it("refuses one 5 MiB message inside a client stream, before creating anything from it", async () => {
    const c = clientsFor("grpc", server.url, { token: adminToken });
    const error = await failure(c.users.batchCreateUsers((async function* () {
      yield create(CreateUserRequestSchema, { username: "batch_huge", email: "batch_huge@example.com", password: PASSWORD, fullName: "y".repeat(5 * MiB) });
    })()));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(await server.app.storage.users.findByLogin("batch_huge")).toBeUndefined();
  });
});

describe("a 100 MB request against a separate server process", () => {
  let proc: SpawnedServer;
  beforeAll(async () => {
    proc = await spawnServer();
  });
  afterAll(async () => {
    await proc?.stop();
  });

  /** Resident and peak memory of the server process, in MiB. */
  function memory(): { rssMiB: number; peakMiB: number } {
    const status = readFileSync(`/proc/${proc.proc.pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rssMiB: kb("VmRSS") / 1024, peakMiB: kb("VmHWM") / 1024 };
  }

  const TOTAL = 100 * 1000 * 1000;
  const chunk = Buffer.alloc(256 * 1024, 0x61);

  /** Writes up to TOTAL bytes, respecting backpressure, until the server answers or the stream ends. */
  async function pump(writable: NodeJS.WritableStream & { destroyed?: boolean }, stopped: () => boolean): Promise<number> {
    let sent = 0;
    while (sent < TOTAL && !stopped() && writable.destroyed !== true) {
      const ok = writable.write(chunk);
      sent += chunk.length;
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = () => resolve();
          writable.once("drain", done);
          writable.once("close", done);
          const poll = setInterval(() => {
            if (stopped()) {
              clearInterval(poll);
              done();
            }
          }, 10);
          writable.once("drain", () => clearInterval(poll));
          writable.once("close", () => clearInterval(poll));
        });
      }
    }
    return sent;
  }

  async function http1Attempt(path: string, headers: Record<string, string>): Promise<{ status: number; body: string; sent: number }> {
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = http.request(`${proc.url}${path}`, { method: "POST", headers });
      req.on("error", (error) => (answered ? undefined : reject(error)));
      req.on("response", (res) => {
        answered = true;
        let body = "";
        res.setEncoding("latin1");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          req.destroy();
          void sentP.then((sent) => resolve({ status: res.statusCode ?? 0, body, sent }));
        });
      });
      const sentP = pump(req, () => answered);
    });
  }

  async function http2Attempt(headers: http2.OutgoingHttpHeaders, first: Buffer): Promise<{ grpcStatus: string | undefined; sent: number }> {
    const session = http2.connect(proc.url);
    session.on("error", () => {});
    try {
      return await new Promise((resolve) => {
        let answered = false;
        let grpcStatus: string | undefined;
        const stream = session.request({ ":method": "POST", te: "trailers", ...headers });
        stream.on("error", () => {});
        stream.on("response", (h) => {
          if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
        });
        stream.on("trailers", (t) => {
          grpcStatus = String(t["grpc-status"]);
          answered = true;
        });
        stream.resume();
        stream.write(first);
        const sentP = pump(stream, () => answered || grpcStatus !== undefined);
        stream.on("close", () => {
          answered = true;
          void sentP.then((sent) => resolve({ grpcStatus, sent: sent + first.length }));
        });
      });
    } finally {
      session.destroy();
    }
  }

  it("answers RESOURCE_EXHAUSTED early over each protocol, keeps memory bounded and goes on serving", async () => {
    const start = memory();
    const results: Record<string, { code: string | number | undefined; sentMiB: number }> = {};

    const connectSized = await http1Attempt("/user.UserService/CreateUser", {
      "content-type": "application/json",
      "connect-protocol-version": "1",
      "content-length": String(TOTAL),
    });
    results["connect, HTTP/1.1, content-length"] = { code: JSON.parse(connectSized.body).code, sentMiB: connectSized.sent / MiB };
    const connectChunked = await http1Attempt("/user.UserService/CreateUser", { "content-type": "application/proto", "connect-protocol-version": "1" });
    results["connect, HTTP/1.1, chunked"] = { code: JSON.parse(connectChunked.body).code, sentMiB: connectChunked.sent / MiB };

    const webHead = envelope(new Uint8Array(), TOTAL);
    const grpcWeb = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      let answered = false;
      const req = http.request(`${proc.url}/user.UserService/CreateUser`, { method: "POST", headers: { "content-type": "application/grpc-web+proto" } });
      req.on("error", (error) => (answered ? undefined : reject(error)));
      req.on("response", (res) => {
        answered = true;
        let body = "";
        res.setEncoding("latin1");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          req.destroy();
          void sentP.then((sent) => resolve({ status: res.statusCode ?? 0, body: `${JSON.stringify(res.headers)}\n${body}`, sent }));
        });
      });
      req.write(webHead);
      const sentP = pump(req, () => answered);
    });
    results["gRPC-Web, HTTP/1.1"] = { code: /grpc-status[":\s]+(\d+)/.exec(grpcWeb.body)?.[1], sentMiB: grpcWeb.sent / MiB };

    const grpcRes = await http2Attempt({ ":path": "/user.UserService/CreateUser", "content-type": "application/grpc" }, envelope(new Uint8Array(), TOTAL));
    results["gRPC, HTTP/2"] = { code: grpcRes.grpcStatus, sentMiB: grpcRes.sent / MiB };

    const after = memory();
    console.log(
      `100 MB attempts: ${JSON.stringify(results)}; server RSS ${start.rssMiB.toFixed(0)} → ${after.rssMiB.toFixed(0)} MiB, ` +
        `peak ${start.peakMiB.toFixed(0)} → ${after.peakMiB.toFixed(0)} MiB`,
    );
    expect(results["connect, HTTP/1.1, content-length"]?.code).toBe("resource_exhausted");
    expect(results["connect, HTTP/1.1, chunked"]?.code).toBe("resource_exhausted");
    expect(results["gRPC-Web, HTTP/1.1"]?.code).toBe(String(Code.ResourceExhausted));
    expect(results["gRPC, HTTP/2"]?.code).toBe(String(Code.ResourceExhausted));
    // The server never held anything near 100 MB.
    expect(after.peakMiB - start.peakMiB).toBeLessThan(48);
    // And it still answers, over every protocol.
    for (const protocol of protocols) {
      expect((await failure(clientsFor(protocol, proc.url).auth.login({ username: "nobody", password: "wrong-password" }))).code).toBe(Code.Unauthenticated);
    }
    expect((await clientsFor("grpc", proc.url).auth.login({ username: "admin", password: "admin-test-password" })).user?.username).toBe("admin");
  });
});

describe("deadlines", () => {
  let server: TestServer;
  let slow: TestServer;
  let token: string;
  let me: bigint;
  beforeAll(async () => {
    [server, slow] = await Promise.all([
      startTestServer({ env: { MAX_TIMEOUT_MS: "60000" } }),
      // bcrypt cost 12 makes every password check take a few hundred milliseconds: a handler slower than a short deadline.
      startTestServer({ env: { BCRYPT_COST: "12", MAX_TIMEOUT_MS: "0" } }),
    ]);
    const user = await makeUser(server, "deadline_user");
    token = user.token;
    me = user.id;
  });
  afterAll(async () => {
    await Promise.all([server?.close(), slow?.close()]);
  });

  it("refuses a deadline above MAX_TIMEOUT_MS with INVALID_ARGUMENT over every protocol, before the handler runs", async () => {
    for (const protocol of protocols) {
      const c = clientsFor(protocol, server.url, { token });
      const error = await failure(c.users.updateUser({ userId: me, fullName: `too patient over ${protocol}` }, { timeoutMs: 120_000 }));
      expect([error.code, error.rawMessage]).toEqual([Code.InvalidArgument, "timeout 120000ms must be <= 60000"]);
      const stream = await failure(collect(c.users.listUsers({}, { timeoutMs: 120_000 })));
      expect(stream.code).toBe(Code.InvalidArgument);
      expect((await c.auth.whoAmI({}, { timeoutMs: 60_000 })).user?.id).toBe(me);
    }
    expect((await server.app.storage.users.getById(Number(me)))?.fullName).toBe("");
  });

  it("with MAX_TIMEOUT_MS=0 accepts any deadline", async () => {
    const error = await failure(clientsFor("grpc", slow.url).auth.login({ username: "nobody", password: "wrong-password" }, { timeoutMs: 10 * 3600_000 }));
    expect(error.code).toBe(Code.Unauthenticated);
  });

  it("answers DEADLINE_EXCEEDED from the server when the deadline passes inside a slow handler (no client timer involved)", async () => {
    // A different unknown name each time, so the login throttle (5 per account) never answers first.
    let n = 0;
    const nobody = () => `nobody_${n++}`;
    const body = toBinary(LoginRequestSchema, create(LoginRequestSchema, { username: nobody(), password: "wrong-password" }));
    // Connect: the deadline as a header only; fetch has no timer of its own.
    const connect = await fetch(`${slow.url}/user.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1", "connect-timeout-ms": "50" },
      body: JSON.stringify({ username: nobody(), password: "wrong-password" }),
    });
    expect([connect.status, ((await connect.json()) as { code: string }).code]).toEqual([504, "deadline_exceeded"]);
    // gRPC-Web over HTTP/1.1, trailers in the body.
    const web = await fetch(`${slow.url}/user.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "grpc-timeout": "50m" },
      body: new Uint8Array(envelope(toBinary(LoginRequestSchema, create(LoginRequestSchema, { username: nobody(), password: "wrong-password" })))),
    });
    const webBody = Buffer.from(await web.arrayBuffer());
    const webStatus = web.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/.exec(envelopes(webBody).find((e) => e.flags & 0x80)?.data.toString("latin1") ?? "")?.[1];
    expect(webStatus).toBe(String(Code.DeadlineExceeded));
    // gRPC over HTTP/2 with a raw stream.
    const session = http2.connect(slow.url);
    try {
      const grpcStatus = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": "/user.AuthService/Login", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "50m" });
        let status = "";
        stream.on("response", (h) => (status = String(h["grpc-status"] ?? "")));
        stream.on("trailers", (t) => (status = String(t["grpc-status"])));
        stream.on("close", () => resolve(status));
        stream.on("error", reject);
        stream.resume();
        stream.end(envelope(body));
      });
      expect(grpcStatus).toBe(String(Code.DeadlineExceeded));
    } finally {
      session.close();
    }
    // The same through the generated clients of every protocol.
    for (const protocol of protocols) {
      const error = await failure(clientsFor(protocol, slow.url).auth.login({ username: nobody(), password: "wrong-password" }, { timeoutMs: 50 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
    }
    // Given time, the same call gets the handler's own answer.
    const patient = await failure(clientsFor("connect", slow.url).auth.login({ username: nobody(), password: "wrong-password" }, { timeoutMs: 20_000 }));
    expect([patient.code, patient.rawMessage]).toEqual([Code.Unauthenticated, "invalid username or password"]);
  });
});

describe("a deadline passing inside a PostgreSQL stream", () => {
  it("releases the cursor's connection (pool of one), so the next query runs", async () => {
    if (!(await servicesAvailable("postgres"))) return;
    const schema = testSchema();
    const applicationName = `limits_${schema.name}`;
    const storage = await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 1, schema: schema.name, connectTimeoutMs: 3000, applicationName });
    const server = await startTestServer({ deps: { storage } });
    try {
      const adminToken = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
      // Rows of ~8 KB, so the stream outgrows the client's flow-control window and the server has to wait for it.
      const metadata = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, "m".repeat(1000)]));
      for (let i = 0; i < 300; i++) {
        await storage.users.create({ username: `pg_row_${i}`, email: `pg_row_${i}@example.com`, passwordHash: "x", fullName: "", avatarUrl: "", status: "active", roles: ["user"], metadata, createdAt: Date.now() });
      }
      const c = clientsFor("grpc", server.url, { token: adminToken });
      let seen = 0;
      const error = await failure((async () => {
        for await (const _user of c.users.listUsers({ pageSize: 1000, search: "pg_row_" }, { timeoutMs: 300 })) {
          seen++;
          await sleep(5);
        }
      })());
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(seen).toBeGreaterThan(0);
      expect(seen).toBeLessThan(300);
      // With one pooled connection, a cursor left open would make this wait and fail.
      expect((await collect(c.users.listUsers({ pageSize: 1000, search: "pg_row_" }))).length).toBe(300);
      const active = await adminQuery<{ n: string }>("select count(*) as n from pg_stat_activity where application_name = $1 and state <> 'idle'", [applicationName]);
      expect(Number(active.rows[0]?.n)).toBe(0);
    } finally {
      await server.close();
      await storage.close();
      await schema.drop();
    }
  });
});

describe("streams that end early", () => {
  let server: TestServer;
  let alice: { id: bigint; token: string };
  let bob: { id: bigint; token: string };
  beforeAll(async () => {
    server = await startTestServer({ env: { CHAT_QUEUE_LIMIT: "5" } });
    alice = await makeUser(server, "stream_alice");
    bob = await makeUser(server, "stream_bob");
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each([
    { protocol: "grpc" as const, httpVersion: "2" as const },
    { protocol: "grpc-web" as const, httpVersion: "1.1" as const },
    { protocol: "connect" as const, httpVersion: "1.1" as const },
    { protocol: "connect" as const, httpVersion: "2" as const },
  ])("leaves no chat session behind when a $protocol client over HTTP/$httpVersion cancels SubscribeChat", async ({ protocol, httpVersion }) => {
    expect(server.app.hub.subscriberCount()).toBe(0);
    const controller = new AbortController();
    const c = clientsFor(protocol, server.url, { token: alice.token, httpVersion });
    const reading = failure(collect(c.users.subscribeChat({ historyLimit: 1 }, { signal: controller.signal })));
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 1);
    controller.abort();
    expect((await reading).code).toBe(Code.Canceled);
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 0);
  });

  it("leaves no chat session behind when a bidi UserChat is cancelled mid-stream, or its socket just drops", async () => {
    const controller = new AbortController();
    const c = clientsFor("grpc", server.url, { token: alice.token });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const reading = failure(collect(c.users.userChat((async function* () {
      yield create(ChatMessageSchema, { content: "before cancel" });
      await held;
    })(), { signal: controller.signal })));
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 1);
    controller.abort();
    release();
    expect((await reading).code).toBe(Code.Canceled);
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 0);

    // A gRPC-Web subscriber whose TCP connection is destroyed without a word.
    const req = http.request(`${server.url}/user.UserService/SubscribeChat`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", authorization: `Bearer ${alice.token}` },
    });
    req.on("error", () => {});
    req.end(envelope(toBinary(SubscribeChatRequestSchema, create(SubscribeChatRequestSchema, { historyLimit: 1 }))));
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 1);
    req.socket?.destroy();
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 0);
  });

  it("cuts off a subscriber that stops reading with RESOURCE_EXHAUSTED, without slowing the one that reads", async () => {
    // The slow one: a raw HTTP/2 client with a small window that never reads until told.
    const session = http2.connect(server.url, { settings: { initialWindowSize: 16 * 1024 } });
    session.on("error", () => {});
    const slowStream = session.request({
      ":method": "POST",
      ":path": "/user.UserService/SubscribeChat",
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${bob.token}`,
    });
    slowStream.on("error", () => {});
    let slowTrailers: http2.IncomingHttpHeaders | undefined;
    slowStream.on("trailers", (t) => (slowTrailers = t));
    slowStream.pause();
    slowStream.end(envelope(toBinary(SubscribeChatRequestSchema, create(SubscribeChatRequestSchema, { historyLimit: 0 }))));
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 1);

    // The fast one reads everything as it comes.
    const fastController = new AbortController();
    const fastSeen: string[] = [];
    const fast = clientsFor("grpc", server.url, { token: alice.token });
    const fastDone = (async () => {
      try {
        for await (const m of fast.users.subscribeChat({ sinceId: BigInt(await server.app.storage.chat.latestId()) }, { signal: fastController.signal })) {
          if (m.id !== 0n) fastSeen.push(m.content);
        }
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    })();
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 2);

    const sender = clientsFor("grpc", server.url, { token: alice.token });
    const COUNT = 120;
    for (let i = 0; i < COUNT; i++) await sender.users.sendChatMessage({ content: `${String(i).padStart(3, "0")} ${"z".repeat(3000)}` });

    // The reader got every message, in order, while the other was stalled.
    await eventually(() => fastSeen.length, (n) => n === COUNT, 10_000);
    expect(fastSeen.map((c) => c.slice(0, 3))).toEqual(Array.from({ length: COUNT }, (_, i) => String(i).padStart(3, "0")));
    // The stalled one was dropped from the hub, so its queue no longer grows.
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 1, 10_000);

    // When it finally reads, it finds what fitted in its buffers, then RESOURCE_EXHAUSTED.
    const chunks: Buffer[] = [];
    slowStream.on("data", (c: Buffer) => chunks.push(c));
    slowStream.resume();
    await new Promise((resolve) => slowStream.once("close", resolve));
    const received = envelopes(Buffer.concat(chunks)).map((e) => fromBinary(ChatMessageSchema, e.data));
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(COUNT);
    expect(slowTrailers?.["grpc-status"]).toBe(String(Code.ResourceExhausted));
    expect(decodeURIComponent(String(slowTrailers?.["grpc-message"]))).toBe("chat subscriber is not reading fast enough; reconnect and resume from the last id");
    console.log(`slow subscriber: received ${received.length} of ${COUNT} messages of ~3 KB before RESOURCE_EXHAUSTED (CHAT_QUEUE_LIMIT=5)`);
    session.close();

    fastController.abort();
    await fastDone;
    await eventually(() => server.app.hub.subscriberCount(), (n) => n === 0);
  });

  it("goes on serving after clients break off ListUsers streams mid-way", async () => {
    const adminToken = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
    for (let i = 0; i < 30; i++) await makeUser(server, `listed_${i}`);
    for (const protocol of protocols) {
      const seen: User[] = [];
      for await (const u of clientsFor(protocol, server.url, { token: adminToken }).users.listUsers({ pageSize: 1000 })) {
        seen.push(u);
        if (seen.length === 3) break;
      }
      expect(seen).toHaveLength(3);
    }
    const all = await collect(clientsFor("connect", server.url, { token: adminToken }).users.listUsers({ pageSize: 1000 }));
    expect(all.filter((u) => u.username.startsWith("listed_"))).toHaveLength(30);
    expect(all.every((u) => u.status === UserStatus.ACTIVE)).toBe(true);
    expect(server.logs.filter((l) => l["msg"] === "handler failed unexpectedly")).toEqual([]);
  });
});

describe("HTTP/2 settings of the app's port", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("advertises 100 concurrent streams and a 64 KiB header list, and survives a client that sends more headers than that", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    await new Promise((resolve) => session.once("remoteSettings", resolve));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(100);
    expect(session.remoteSettings.maxHeaderListSize).toBe(64 * 1024);
    const outcome = await new Promise<string>((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": "/user.AuthService/WhoAmI", "content-type": "application/grpc", "x-big": "b".repeat(100 * 1024) });
      stream.on("response", (h) => resolve(`response ${String(h[":status"])}`));
      stream.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
      stream.on("close", () => resolve("closed"));
      stream.end();
    });
    expect(outcome).not.toMatch(/^response 200/);
    session.destroy();
    expect((await clientsFor("grpc", server.url).auth.login({ username: "admin", password: TEST_ADMIN_PASSWORD })).user?.username).toBe("admin");
  });
});
