/**
 * The SDK's load balancing and retry safety against real server processes:
 * backends are killed and restarted under load, and a relay swallows a
 * response so a call provably reaches a server that then dies.
 */
import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFor, loginToken } from "./support/clients.js";
import { freePort } from "./support/free-port.js";
import { spawnServer, type SpawnedServer } from "./support/spawn-server.js";
import { createUserClient, type UserClient } from "../client/user-client.js";

const ADMIN_PASSWORD = "admin-test-password";
const JWT_SECRET = "load-balancing-test-secret-0123456789abcdef";
/** Fast health reconnects so a restarted backend is noticed within a second. */
const quickHealth = { reconnectInitialMs: 100, reconnectMaxMs: 400, pollIntervalMs: 300 } as const;
/** Starting a server through tsx is slow on a busy machine; this is patience, not a speed requirement. */
const SPAWN = { timeoutMs: 120_000 };

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Number of finished RPC log lines for a procedure in a server's own log. */
function rpcCount(server: SpawnedServer, procedure: string): number {
  return server.logs.filter((l) => l["msg"] === "rpc" && l["procedure"] === procedure).length;
}

/**
 * A TCP relay whose server-to-client direction can be swallowed: the server
 * gets the request and answers, but the answer never reaches the client.
 */
async function startSwallowingRelay(targetPort: number) {
  let swallowing = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (!swallowing) client.write(chunk);
    });
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    swallow: (on: boolean) => (swallowing = on),
    /** Drops every relayed connection, as a dying server's kernel would. */
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let a: SpawnedServer;
let b: SpawnedServer;
let portA: number;
let token: string;

beforeAll(async () => {
  portA = await freePort();
  [a, b] = await Promise.all([spawnServer({ PORT: String(portA), JWT_SECRET }, SPAWN), spawnServer({ JWT_SECRET }, SPAWN)]);
  token = await loginToken(a.url, "admin", ADMIN_PASSWORD);
}, 240_000);

afterAll(async () => {
  await Promise.all([a?.stop("SIGKILL"), b?.stop("SIGKILL")]);
});

describe("load balancing over two server processes", () => {
  let markerId: bigint;

  beforeAll(async () => {
    // Each backend has its own database; the same user id names a different user on each, so every answer says who gave it.
    const ids = [];
    for (const [server, name] of [
      [a, "answered_by_a"],
      [b, "answered_by_b"],
    ] as const) {
      const res = await clientsFor("grpc", server.url, { token }).users.createUser({ username: name, email: `${name}@example.com`, password: "s3cret-pass" });
      ids.push(res.user?.id);
    }
    expect(ids[0]).toBe(ids[1]);
    markerId = ids[0] as bigint;
  });

  async function whoAnswers(client: UserClient): Promise<"a" | "b"> {
    const user = await client.getUser(markerId);
    if (user?.username === "answered_by_a") return "a";
    if (user?.username === "answered_by_b") return "b";
    throw new Error(`unexpected answer ${user?.username}`);
  }

  async function allServing(client: UserClient): Promise<boolean> {
    return client.backends().every((s) => s.health === "serving" && !s.ejected);
  }

  it("round-robin alternates, survives a backend killed under load, and sends traffic back after its restart", async () => {
    const client = createUserClient({ addresses: [a.url, b.url], token, healthCheck: quickHealth, timeoutMs: 5_000 });
    try {
      await until(() => allServing(client), 30_000, "both backends serving");
      const logBefore = rpcCount(a, "user.UserService/GetUser") + rpcCount(b, "user.UserService/GetUser");

      const first: string[] = [];
      for (let i = 0; i < 20; i++) first.push(await whoAnswers(client));
      expect(first.filter((x) => x === "a")).toHaveLength(10);
      expect(first.filter((x) => x === "b")).toHaveLength(10);
      // The servers' own logs agree: each logged exactly its share.
      await until(() => rpcCount(a, "user.UserService/GetUser") + rpcCount(b, "user.UserService/GetUser") >= logBefore + 20, 5_000, "rpc log lines");

      // Load with 4 concurrent callers while A is killed; every call must succeed.
      const answers: { who: string; startedAt: number }[] = [];
      const failures: unknown[] = [];
      let running = true;
      const workers = Array.from({ length: 4 }, async () => {
        while (running) {
          const startedAt = Date.now();
          try {
            answers.push({ who: await whoAnswers(client), startedAt });
          } catch (error) {
            failures.push(error);
          }
        }
      });
      await until(() => answers.length >= 40, 10_000, "traffic before the kill");
      expect(answers.some((x) => x.who === "a")).toBe(true);
      await a.stop("SIGKILL");
      const killedAt = Date.now();
      await until(() => answers.filter((x) => x.startedAt > killedAt).length >= 100, 15_000, "traffic after the kill");
      expect(answers.filter((x) => x.startedAt > killedAt).every((x) => x.who === "b")).toBe(true);
      expect(client.backends().find((s) => s.url === a.url)?.health).toBe("unreachable");

      // A comes back on the same port with the same database; traffic returns to it without a failed call.
      a = await spawnServer({ PORT: String(portA), JWT_SECRET, DATA_DIR: a.dataDir }, SPAWN);
      const restartedAt = Date.now();
      await until(() => answers.some((x) => x.who === "a" && x.startedAt > restartedAt), 30_000, "traffic back on A");
      running = false;
      await Promise.all(workers);
      expect(failures).toEqual([]);

      await until(() => allServing(client), 30_000, "both backends serving again");
      const after: string[] = [];
      for (let i = 0; i < 20; i++) after.push(await whoAnswers(client));
      expect(after.filter((x) => x === "a")).toHaveLength(10);
      expect(after.filter((x) => x === "b")).toHaveLength(10);
      // The restarted process logged its share itself.
      await until(() => rpcCount(a, "user.UserService/GetUser") >= 10, 5_000, "A's rpc log lines");
    } finally {
      client.close();
    }
  }, 240_000);

  it("weighted sends each backend exactly its share, interleaved", async () => {
    const client = createUserClient({
      addresses: [
        { url: a.url, weight: 3 },
        { url: b.url, weight: 1 },
      ],
      strategy: "weighted",
      token,
      healthCheck: quickHealth,
    });
    try {
      await until(() => allServing(client), 30_000, "both backends serving");
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) seen.push(await whoAnswers(client));
      expect(seen.filter((x) => x === "a")).toHaveLength(30);
      expect(seen.filter((x) => x === "b")).toHaveLength(10);
      // Smooth weighting never sends more than 3 calls in a row to A.
      expect(seen.join("")).not.toContain("aaaa");
      expect(client.backends().map((s) => [s.url, s.successes])).toEqual([
        [a.url, 30],
        [b.url, 10],
      ]);
    } finally {
      client.close();
    }
  });

  it("random reaches both backends", async () => {
    const client = createUserClient({ addresses: [a.url, b.url], strategy: "random", token, healthCheck: quickHealth });
    try {
      await until(() => allServing(client), 30_000, "both backends serving");
      const seen: string[] = [];
      for (let i = 0; i < 200; i++) seen.push(await whoAnswers(client));
      // Binomial(200, 0.5): outside 60..140 has a probability below 1e-8.
      const toA = seen.filter((x) => x === "a").length;
      expect(toA).toBeGreaterThan(60);
      expect(toA).toBeLessThan(140);
    } finally {
      client.close();
    }
  });
});

describe("retry safety against a server that dies after receiving", () => {
  let c: SpawnedServer;
  let d: SpawnedServer;
  let relay: Awaited<ReturnType<typeof startSwallowingRelay>>;

  beforeAll(async () => {
    // C shares B's database: a CreateUser repeated on B (here "d") would fail with ALREADY_EXISTS or create a twin.
    d = b;
    c = await spawnServer({ JWT_SECRET, DATA_DIR: b.dataDir }, SPAWN);
    relay = await startSwallowingRelay(c.port);
  }, 150_000);

  afterAll(async () => {
    await relay?.close();
    await c?.stop("SIGKILL");
  });

  async function usersNamed(username: string): Promise<string[]> {
    const { users } = clientsFor("connect", d.url, { token });
    const found: string[] = [];
    for await (const user of users.listUsers({ search: username })) found.push(user.username);
    return found.filter((u) => u === username);
  }

  /** A client whose first call goes through the relay to C, with D as the healthy alternative. */
  function clientViaRelay(): UserClient {
    return createUserClient({ addresses: [relay.url, d.url], strategy: "round-robin", healthCheck: false, token, timeoutMs: 10_000 });
  }

  it("an idempotent call whose answer was lost is retried on the other backend", async () => {
    const client = clientViaRelay();
    try {
      relay.swallow(true);
      const before = rpcCount(c, "user.UserService/GetUser");
      const call = client.getUser(1);
      await until(() => rpcCount(c, "user.UserService/GetUser") > before, 10_000, "C to answer GetUser");
      relay.cut();
      const user = await call;
      expect(user?.username).toBe("admin");
      const [viaRelay, direct] = client.backends();
      expect([viaRelay?.attempts, viaRelay?.successes, direct?.attempts, direct?.successes]).toEqual([1, 0, 1, 1]);
    } finally {
      relay.swallow(false);
      client.close();
    }
  });

  it("a non-idempotent call that reached a server which then died is not retried: one user or an error, never a twin", async () => {
    const client = clientViaRelay();
    const username = `once_${Date.now()}`;
    const createsOnD = rpcCount(d, "user.UserService/CreateUser");
    try {
      relay.swallow(true);
      const call = client.createUser({ username, email: `${username}@example.com`, password: "s3cret-pass" }).then(
        (user) => ({ ok: true as const, user }),
        (error: unknown) => ({ ok: false as const, error: ConnectError.from(error) }),
      );
      // The user exists, so C received and processed the call; its answer is being swallowed.
      await until(async () => (await usersNamed(username)).length === 1, 10_000, "C to create the user");
      await c.stop("SIGKILL");
      relay.cut();
      const outcome = await call;
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expect(outcome.error.code).toBe(Code.Unavailable);
      expect(await usersNamed(username)).toEqual([username]);
      const [viaRelay, direct] = client.backends();
      expect(viaRelay?.attempts).toBe(1);
      // D never saw the call: no retry, so no ALREADY_EXISTS and no second user.
      expect(direct?.attempts).toBe(0);
      expect(rpcCount(d, "user.UserService/CreateUser")).toBe(createsOnD);
    } finally {
      relay.swallow(false);
      client.close();
    }
  });

  it("a non-idempotent call refused before reaching any server is sent to the other backend, once", async () => {
    const deadPort = await freePort();
    const client = createUserClient({ addresses: [`http://127.0.0.1:${deadPort}`, d.url], healthCheck: false, token });
    const username = `refused_${Date.now()}`;
    try {
      const user = await client.createUser({ username, email: `${username}@example.com`, password: "s3cret-pass" });
      expect(user.username).toBe(username);
      expect(await usersNamed(username)).toEqual([username]);
      const [dead, live] = client.backends();
      expect([dead?.attempts, dead?.failures, dead?.ejected]).toEqual([1, 1, true]);
      expect([live?.attempts, live?.successes]).toEqual([1, 1]);
    } finally {
      client.close();
    }
  });
});
