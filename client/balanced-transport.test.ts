import net from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { BatchCreateUsersResponseSchema, UserSchema, UserService } from "../gen/user/user_pb.js";
import { startStubServer, type StubServer } from "./test-support/stub-server.js";
import { createUserClient, type UserClient } from "./user-client.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function track<T extends UserClient | StubServer>(thing: T): T {
  cleanups.push(() => ("close" in thing ? thing.close() : thing.kill()));
  return thing;
}

async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const failed = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => ConnectError.from(e));
const quickRetry = { initialBackoffMs: 20, maxBackoffMs: 100, jitter: 0 };

describe("deadlines", () => {
  it("every call gets the default deadline, a call's own timeout wins, long-lived streams get none", async () => {
    const seen: Record<string, number | undefined> = {};
    const server = track(
      await startStubServer((router) =>
        router.service(UserService, {
          getUser: (req, ctx) => {
            seen[`get${req.userId}`] = ctx.timeoutMs();
            return { found: false };
          },
          async *subscribeChat(_req, ctx) {
            seen["subscribe"] = ctx.timeoutMs();
          },
        }),
      ),
    );
    const client = track(createUserClient({ baseUrl: server.url, timeoutMs: 2_000 }));
    await client.getUser(1);
    await client.getUser(2, { timeoutMs: 300 });
    for await (const _ of client.subscribeChat()) break;
    expect(seen["get1"]).toBeGreaterThan(1_000);
    expect(seen["get1"]).toBeLessThanOrEqual(2_000);
    expect(seen["get2"]).toBeGreaterThan(0);
    expect(seen["get2"]).toBeLessThanOrEqual(300);
    expect("subscribe" in seen).toBe(true);
    expect(seen["subscribe"]).toBeUndefined();
  });

  it("a server that does not answer in time fails the call with DEADLINE_EXCEEDED, without retries", async () => {
    const server = track(
      await startStubServer((router) =>
        router.service(UserService, {
          getUser: (_req, ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
        }),
      ),
    );
    const client = track(createUserClient({ baseUrl: server.url, timeoutMs: 150 }));
    expect((await failed(client.getUser(1)))?.code).toBe(Code.DeadlineExceeded);
    expect(client.backends()[0]?.attempts).toBe(1);
  });
});

describe("retries", () => {
  it("a non-idempotent call is retried while the connection is refused, and succeeds once the server is up", async () => {
    const port = await unusedPort();
    const client = track(createUserClient({ baseUrl: `http://127.0.0.1:${port}`, retry: { ...quickRetry, maxAttempts: 30 } }));
    let creates = 0;
    const call = client.createUser({ username: "late" });
    await new Promise((r) => setTimeout(r, 120));
    track(
      await startStubServer(
        (router) =>
          router.service(UserService, {
            createUser: (req) => {
              creates++;
              return { user: create(UserSchema, { id: 7n, username: req.username }), success: true };
            },
          }),
        port,
      ),
    );
    expect((await call).username).toBe("late");
    expect(creates).toBe(1);
    expect(client.backends()[0]?.attempts).toBeGreaterThan(1);
  });

  it("gives up after maxAttempts with the last UNAVAILABLE", async () => {
    const client = track(createUserClient({ baseUrl: `http://127.0.0.1:${await unusedPort()}`, retry: { ...quickRetry, maxAttempts: 3 } }));
    const error = await failed(client.whoAmI());
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toMatch(/ECONNREFUSED/);
    expect(client.backends()[0]).toMatchObject({ attempts: 3, failures: 3 });
  });

  it("UNAVAILABLE from the server is retried for an idempotent call only", async () => {
    let gets = 0;
    let creates = 0;
    const server = track(
      await startStubServer((router) =>
        router.service(UserService, {
          getUser: () => {
            if (++gets === 1) throw new ConnectError("busy", Code.Unavailable);
            return { found: true, user: { id: 1n, username: "admin" } };
          },
          createUser: () => {
            creates++;
            throw new ConnectError("busy", Code.Unavailable);
          },
        }),
      ),
    );
    const client = track(createUserClient({ baseUrl: server.url, retry: quickRetry }));
    expect((await client.getUser(1))?.username).toBe("admin");
    expect(gets).toBe(2);
    expect((await failed(client.createUser({ username: "x" })))?.code).toBe(Code.Unavailable);
    expect(creates).toBe(1);
  });

  it("other codes are never retried", async () => {
    let gets = 0;
    const server = track(
      await startStubServer((router) =>
        router.service(UserService, {
          getUser: () => {
            gets++;
            throw new ConnectError("nope", Code.ResourceExhausted);
          },
        }),
      ),
    );
    const client = track(createUserClient({ baseUrl: server.url, retry: quickRetry }));
    expect((await failed(client.getUser(1)))?.code).toBe(Code.ResourceExhausted);
    expect(gets).toBe(1);
  });

  it("a refused client stream is replayed whole on the next backend", async () => {
    const received: string[][] = [];
    const live = track(
      await startStubServer((router) =>
        router.service(UserService, {
          async batchCreateUsers(requests) {
            const names: string[] = [];
            for await (const r of requests) names.push(r.username);
            received.push(names);
            return create(BatchCreateUsersResponseSchema, { successCount: names.length });
          },
        }),
      ),
    );
    const dead = `http://127.0.0.1:${await unusedPort()}`;
    const client = track(createUserClient({ addresses: [dead, live.url], healthCheck: false, retry: quickRetry }));
    async function* items() {
      for (const username of ["u1", "u2", "u3"]) yield { username };
    }
    const res = await client.batchCreateUsers(items());
    expect(res.successCount).toBe(3);
    expect(received).toEqual([["u1", "u2", "u3"]]);
    expect(client.backends().map((b) => b.attempts)).toEqual([1, 1]);
  });

  it("a closed client refuses new calls", async () => {
    const client = createUserClient({ baseUrl: "http://127.0.0.1:1" });
    client.close();
    expect((await failed(client.getUser(1)))?.code).toBe(Code.Canceled);
  });
});
