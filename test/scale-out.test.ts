import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient as createRpcClient } from "@connectrpc/connect";
import { createClient as createRedisClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { MessageType, type ChatMessage } from "../gen/user/user_pb.js";
import { clientsFor, loginToken, transportFor, type Protocol } from "./support/clients.js";
import { adminQuery, createTestDatabase, servicesAvailable, testDatabaseUrl, testRedisPrefix, testRedisUrl, type TestDatabase } from "./support/services.js";
import { spawnServer, type SpawnedServer } from "./support/spawn-server.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

const available = await servicesAvailable("postgres", "redis");

const ADMIN_PASSWORD = "admin-test-password";
const PASSWORD = "correct horse battery";

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`${what} did not happen within ${timeoutMs} ms (last error: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A chat subscription running in the background, collecting every real message (keep-alives dropped). */
function subscribe(url: string, token: string, protocol: Protocol, sinceId = 0n) {
  const { users } = clientsFor(protocol, url, { token, httpVersion: "2" });
  const controller = new AbortController();
  const received: ChatMessage[] = [];
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const m of users.subscribeChat({ sinceId, historyLimit: 0 }, { signal: controller.signal })) {
        if (m.id !== 0n) received.push(m);
      }
    } catch (error) {
      if (!controller.signal.aborted) failure = error;
    }
  })();
  return {
    received,
    /** Resolves once at least n messages arrived. */
    async waitFor(n: number, timeoutMs = 15_000): Promise<void> {
      await until(async () => {
        if (failure !== undefined) throw failure;
        return received.length >= n ? true : undefined;
      }, `${n} chat messages on the subscriber`, timeoutMs);
    },
    async stop(): Promise<void> {
      controller.abort();
      await done;
      if (failure !== undefined) throw failure;
    },
  };
}

/** Waits until the server's users_chat_subscribers gauge shows n open subscriptions. */
async function subscribersOn(server: SpawnedServer, n: number): Promise<void> {
  await until(async () => {
    const text = await fetch(`${server.url}/metrics`).then((r) => r.text());
    const line = text.split("\n").find((l) => l.startsWith("users_chat_subscribers"));
    return line !== undefined && Number(line.split(" ").pop()) === n ? true : undefined;
  }, `${n} chat subscriber(s) on ${server.url}`);
}

function codeOf(error: unknown): Code | undefined {
  return error instanceof ConnectError ? error.code : undefined;
}

describe.skipIf(!available)("two replicas sharing PostgreSQL and Redis", () => {
  let db: TestDatabase;
  let pgProxy: TcpProxy;
  const prefix = testRedisPrefix();
  const redis = createRedisClient({ url: testRedisUrl });
  let a: SpawnedServer;
  let b: SpawnedServer;
  let adminToken: string;
  let alice: { id: bigint; token: string };
  let bob: { id: bigint; token: string };

  beforeAll(async () => {
    await redis.connect();
    db = await createTestDatabase();
    // The servers reach PostgreSQL through a relay the test can cut, to make the database truly vanish for a while.
    const target = new URL(testDatabaseUrl);
    pgProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const databaseUrl = new URL(db.url);
    databaseUrl.hostname = "127.0.0.1";
    databaseUrl.port = String(pgProxy.port);
    const env = {
      DATABASE_URL: databaseUrl.toString(),
      DATABASE_POOL_SIZE: "4",
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: prefix,
      JWT_SECRET: randomBytes(32).toString("base64url"),
      HEALTH_CHECK_INTERVAL_MS: "200",
      ADMIN_PASSWORD,
    };
    // Both start at once on an empty database: migrations and the admin account must cope with the race.
    // A generous start timeout: two tsx-compiled servers starting at once on a busy CI machine are slow.
    const started = await Promise.allSettled([spawnServer(env, { timeoutMs: 75_000 }), spawnServer(env, { timeoutMs: 75_000 })]);
    for (const s of started) if (s.status === "fulfilled") (a === undefined ? (a = s.value) : (b = s.value));
    for (const s of started) if (s.status === "rejected") throw s.reason;
    adminToken = await loginToken(b.url, "admin", ADMIN_PASSWORD);
    const signUp = async (url: string, username: string) => {
      const res = await clientsFor("connect", url).users.createUser({ username, email: `${username}@example.com`, password: PASSWORD });
      return { id: res.user!.id, token: await loginToken(url, username, PASSWORD) };
    };
    alice = await signUp(a.url, "alice");
    bob = await signUp(b.url, "bob");
  }, 150_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await pgProxy?.close();
    await db?.drop();
    if (redis.isOpen) {
      for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length > 0) await redis.del(keys);
      redis.destroy();
    }
  });

  it("serves one set of users: created through A, read and found through B", async () => {
    const created = await clientsFor("grpc", a.url, { token: adminToken }).users.createUser({
      username: "carol",
      email: "carol@example.com",
      password: PASSWORD,
      fullName: "Carol Shared",
      roles: ["user", "ops"],
    });
    const onB = clientsFor("grpc-web", b.url, { token: adminToken }).users;
    const read = await onB.getUser({ userId: created.user!.id });
    expect(read.found).toBe(true);
    expect(read.user?.username).toBe("carol");
    expect(read.user?.fullName).toBe("Carol Shared");
    expect(read.user?.roles).toEqual(["user", "ops"]);
    const listed: string[] = [];
    for await (const u of onB.listUsers({ search: "shared", pageSize: 10 })) listed.push(u.username);
    expect(listed).toEqual(["carol"]);
    // A token issued by A works on B (same JWT_SECRET, same user row).
    const who = await clientsFor("connect", b.url, { token: alice.token }).auth.whoAmI({});
    expect(who.user?.username).toBe("alice");
  });

  it("lets exactly one of two simultaneous sign-ups of one username win, whichever replica each hits", async () => {
    for (let round = 0; round < 5; round++) {
      const username = `racer${round}`;
      const results = await Promise.allSettled(
        [a, b].map((server, i) =>
          clientsFor(i === 0 ? "grpc" : "connect", server.url).users.createUser({
            username,
            email: `${username}-${i}@example.com`,
            password: PASSWORD,
          }),
        ),
      );
      const ok = results.filter((r) => r.status === "fulfilled");
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(ok).toHaveLength(1);
      expect(failed.map((f) => codeOf(f.reason))).toEqual([Code.AlreadyExists]);
      expect((failed[0]!.reason as ConnectError).rawMessage).toBe("username already exists");
    }
    const found: string[] = [];
    for await (const u of clientsFor("connect", b.url, { token: adminToken }).users.listUsers({ search: "racer", pageSize: 100 })) {
      found.push(u.username);
    }
    expect(found.sort()).toEqual(["racer0", "racer1", "racer2", "racer3", "racer4"]);
  });

  it("delivers chat sent through A to a subscriber on B once and in order, signalled through Redis", async () => {
    const signals: string[] = [];
    const listener = redis.duplicate();
    await listener.connect();
    await listener.subscribe(`${prefix}chat`, (m) => signals.push(m));
    const onB = subscribe(b.url, bob.token, "grpc");
    // Wait until B holds the subscription, so what follows arrives live rather than as replayed history.
    await subscribersOn(b, 1);

    const aliceOnA = clientsFor("connect", a.url, { token: alice.token, httpVersion: "2" }).users;
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 4; i++) sent.push((await aliceOnA.sendChatMessage({ content: `unary ${i}` })).message!);
    // Then over the bidi UserChat on A, with a direct message to bob in between.
    const outgoing = async function* () {
      yield { content: "bidi 0" };
      yield { content: "bidi dm", toUserId: bob.id, type: MessageType.TEXT };
      yield { content: "bidi 1" };
    };
    const receipts: ChatMessage[] = [];
    for await (const m of clientsFor("grpc", a.url, { token: alice.token }).users.userChat(outgoing())) receipts.push(m);
    expect(receipts.map((m) => m.content)).toEqual(["bidi 0", "bidi dm", "bidi 1"]);
    sent.push(...receipts);

    await onB.waitFor(7);
    // Anything duplicated would arrive right behind; give it the chance to.
    await new Promise((r) => setTimeout(r, 500));
    await onB.stop();
    await listener.unsubscribe();
    listener.destroy();

    expect(onB.received.map((m) => m.content)).toEqual(["unary 0", "unary 1", "unary 2", "unary 3", "bidi 0", "bidi dm", "bidi 1"]);
    expect(onB.received.map((m) => m.id)).toEqual(sent.map((m) => m.id));
    const ids = onB.received.map((m) => Number(m.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(onB.received.every((m) => m.fromUsername === "alice" && m.fromUserId === alice.id)).toBe(true);
    expect(onB.received[5]!.toUserId).toBe(bob.id);
    // A announced each message on the deployment's channel: the broker carried the signal, not only B's safety-net poll.
    for (const m of sent) expect(signals).toContain(String(m.id));
  });

  it("keeps chat going without a restart when the broker connections are killed, losing no stored message", async () => {
    const before = (await clientsFor("connect", a.url, { token: alice.token }).users.sendChatMessage({ content: "before the cut" })).message!;
    const onB = subscribe(b.url, bob.token, "grpc", before.id);
    await subscribersOn(b, 1);
    const aliceOnA = clientsFor("grpc", a.url, { token: alice.token }).users;

    // Kill every Redis connection of both replicas: subscribers (CLIENT KILL TYPE pubsub) and command connections.
    const clients = (await redis.clientList()).filter((c) => c.name.startsWith(prefix));
    expect(clients.filter((c) => c.name === `${prefix}chat-subscriber`)).toHaveLength(2);
    // Narrowed to this run's connections by address, so parallel runs on the same Redis are left alone.
    for (const c of clients.filter((c) => c.name === `${prefix}chat-subscriber`)) {
      expect(await redis.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub", "ADDR", c.addr])).toBe(1);
    }
    for (const c of clients.filter((c) => c.name === `${prefix}commands`)) {
      expect(await redis.sendCommand(["CLIENT", "KILL", "TYPE", "normal", "ADDR", c.addr])).toBe(1);
    }
    const contents = Array.from({ length: 6 }, (_, i) => `during the cut ${i}`);
    const sent: ChatMessage[] = [];
    for (const content of contents) sent.push((await aliceOnA.sendChatMessage({ content })).message!);

    await onB.waitFor(6);
    await until(async () => {
      const list = (await redis.clientList()).filter((c) => c.name === `${prefix}chat-subscriber`);
      return list.length === 2 ? true : undefined;
    }, "both subscribers back");
    const after = (await aliceOnA.sendChatMessage({ content: "after the cut" })).message!;
    await onB.waitFor(7);
    await new Promise((r) => setTimeout(r, 500));
    await onB.stop();
    expect(onB.received.map((m) => m.content)).toEqual([...contents, "after the cut"]);
    expect(onB.received.map((m) => m.id)).toEqual([...sent, after].map((m) => m.id));

    // The history on either replica holds every message exactly once.
    const history = subscribe(a.url, bob.token, "connect", before.id - 1n);
    await history.waitFor(8);
    await history.stop();
    expect(history.received.map((m) => m.content)).toEqual(["before the cut", ...contents, "after the cut"]);
  });

  it("recovers by itself when PostgreSQL ends the servers' connections", async () => {
    const onA = clientsFor("grpc", a.url, { token: adminToken }).users;
    const onB = clientsFor("connect", b.url, { token: adminToken }).users;
    await Promise.all([onA.getUser({ userId: alice.id }), onB.getUser({ userId: alice.id })]);
    const terminated = await adminQuery<{ n: string }>(
      "select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1",
      [db.name],
    );
    expect(Number(terminated.rows[0]?.n)).toBeGreaterThanOrEqual(2);
    // Calls right after either succeed or fail as UNAVAILABLE (retryable), never INTERNAL.
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? onA : onB).getUser({ userId: alice.id })));
    for (const o of outcomes) if (o.status === "rejected") expect(codeOf(o.reason)).toBe(Code.Unavailable);
    const again = await Promise.all([onA.getUser({ userId: bob.id }), onB.getUser({ userId: bob.id })]);
    expect(again.map((r) => r.user?.username)).toEqual(["bob", "bob"]);
  });

  it("answers UNAVAILABLE and reports not ready while PostgreSQL is unreachable, and serves again once it is back", async () => {
    const onA = clientsFor("grpc", a.url, { token: adminToken }).users;
    const anonymousOnB = clientsFor("connect", b.url).users;
    const healthOnA = createRpcClient(Health, transportFor("grpc", a.url));
    await pgProxy.cut();
    try {
      // A listing must reach the database (a single user may be answered from A's user cache).
      const failure = await (async () => {
        for await (const _ of onA.listUsers({})) void _;
      })().catch((e: unknown) => e);
      expect(codeOf(failure)).toBe(Code.Unavailable);
      expect((failure as ConnectError).rawMessage).toBe("the database is unavailable; retry shortly");
      const signUp = await anonymousOnB.createUser({ username: "dave", email: "dave@example.com", password: PASSWORD }).catch((e: unknown) => e);
      expect(codeOf(signUp)).toBe(Code.Unavailable);
      await until(async () => ((await fetch(`${b.url}/readyz`)).status === 503 ? true : undefined), "B not ready");
      await until(
        async () => ((await healthOnA.check({ service: "" })).status === HealthCheckResponse_ServingStatus.NOT_SERVING ? true : undefined),
        "A NOT_SERVING",
      );
    } finally {
      await pgProxy.restore();
    }
    await until(async () => ((await fetch(`${b.url}/readyz`)).status === 200 ? true : undefined), "B ready again");
    await until(async () => {
      const names: string[] = [];
      for await (const u of onA.listUsers({ search: "alice" })) names.push(u.username);
      return names.includes("alice") ? true : undefined;
    }, "A serving again");
    const dave = await anonymousOnB.createUser({ username: "dave", email: "dave@example.com", password: PASSWORD });
    expect(dave.user?.username).toBe("dave");
    // Nothing during the outage was reported as an unexpected (INTERNAL) failure.
    for (const server of [a, b]) expect(server.logs.filter((l) => l["msg"] === "handler failed unexpectedly")).toEqual([]);
  });
});
