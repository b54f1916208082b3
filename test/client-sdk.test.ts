import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageType, UserStatus } from "../gen/user/user_pb.js";
import { explainError } from "../client/error-explainer.js";
import { collect, createUserClient, type UserClient } from "../client/user-client.js";
import { protocols } from "../client/protocol.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";

/** Counts the TCP connections a client opens, by relaying them to the server. */
async function countingRelay(target: number): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe.each(protocols)("the SDK over %s", (protocol) => {
  let client: UserClient;
  const prefix = `sdk_${protocol.replace("-", "")}_`;
  beforeAll(async () => {
    client = createUserClient({ baseUrl: server.url, protocol });
    const res = await client.login("admin", TEST_ADMIN_PASSWORD);
    expect(res.accessToken).not.toBe("");
  });
  afterAll(() => client.close());

  it("login stores the token: whoAmI answers as admin, refresh swaps in a working token", async () => {
    expect(client.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const me = await client.whoAmI();
    expect(me.username).toBe("admin");
    expect(me.roles).toContain("admin");
    const refreshed = await client.refresh();
    expect(client.token).toBe(refreshed.accessToken);
    expect((await client.whoAmI()).username).toBe("admin");
  });

  it("creates, reads, updates and deletes a user", async () => {
    const created = await client.createUser({ username: `${prefix}crud`, email: `${prefix}crud@example.com`, password: "s3cret-pass", fullName: "Crud One" });
    expect(created.id).toBeGreaterThan(0n);
    expect(created.status).toBe(UserStatus.ACTIVE);

    const read = await client.getUser(created.id);
    expect(read?.username).toBe(`${prefix}crud`);
    expect(read?.fullName).toBe("Crud One");
    const masked = await client.getUser(created.id, { fields: ["username"] });
    expect(masked?.username).toBe(`${prefix}crud`);
    expect(masked?.email).toBe("");

    const updated = await client.updateUser(created.id, { fullName: "Crud Two" });
    expect(updated.fullName).toBe("Crud Two");
    expect((await client.getUser(Number(created.id)))?.fullName).toBe("Crud Two");

    await client.deleteUser(created.id);
    expect((await client.getUser(created.id))?.status).toBe(UserStatus.DELETED);
    await client.deleteUser(created.id, { soft: false });
    expect(await client.getUser(created.id)).toBeUndefined();
  });

  it("lists users as an async iterable and collects them", async () => {
    const made = await client.batchCreateUsers(
      [1, 2, 3].map((n) => ({ username: `${prefix}list${n}`, email: `${prefix}list${n}@example.com`, password: "s3cret-pass" })),
    );
    expect(made.successCount).toBe(3);
    const seen: string[] = [];
    for await (const user of client.listUsers({ search: `${prefix}list`, sortBy: "username" })) seen.push(user.username);
    expect(seen).toEqual([`${prefix}list1`, `${prefix}list2`, `${prefix}list3`]);
    const collected = await client.collectUsers({ search: `${prefix}list`, sortBy: "username", sortOrder: "desc", pageSize: 2 });
    expect(collected.map((u) => u.username)).toEqual([`${prefix}list3`, `${prefix}list2`]);
  });

  it("batch-creates from an async iterable and reports failed items by index", async () => {
    await client.createUser({ username: `${prefix}batch_taken`, email: `${prefix}batch_taken@example.com`, password: "s3cret-pass" });
    async function* items() {
      yield { username: `${prefix}batch_a`, email: `${prefix}batch_a@example.com`, password: "s3cret-pass" };
      yield { username: `${prefix}batch_b`, email: "not-an-email", password: "s3cret-pass" };
      yield { username: `${prefix}batch_taken`, email: `${prefix}batch_a2@example.com`, password: "s3cret-pass" };
      yield { username: `${prefix}batch_c`, email: `${prefix}batch_c@example.com`, password: "s3cret-pass" };
    }
    const res = await client.batchCreateUsers(items());
    expect(res.successCount).toBe(2);
    expect(res.users.map((u) => u.username)).toEqual([`${prefix}batch_a`, `${prefix}batch_c`]);
    expect(res.itemErrors.map((e) => [e.index, e.code])).toEqual([
      [1, "INVALID_ARGUMENT"],
      [2, "ALREADY_EXISTS"],
    ]);
    expect(res.itemErrors[0]?.fields).toEqual(["email"]);
  });

  it("chats: a session receives its own messages as receipts and end() waits for them", async () => {
    const session = client.chat();
    session.send(`${prefix} hello`);
    session.send(`${prefix} again`, { type: MessageType.TEXT });
    const received: string[] = [];
    const reading = (async () => {
      for await (const message of session.messages) {
        expect(message.id).toBeGreaterThan(0n);
        expect(message.fromUsername).toBe("admin");
        received.push(message.content);
      }
    })();
    await session.end();
    await reading;
    expect(received).toEqual([`${prefix} hello`, `${prefix} again`]);
  });

  it("subscribeChat delivers what sendChatMessage stored, without keep-alives", async () => {
    const controller = new AbortController();
    const sent = await client.sendChatMessage(`${prefix} before`);
    const stream = client.subscribeChat({ sinceId: sent.id - 1n, signal: controller.signal });
    const got: string[] = [];
    const reading = (async () => {
      try {
        for await (const message of stream) {
          expect(message.id).not.toBe(0n);
          got.push(message.content);
          if (got.length === 1) await client.sendChatMessage(`${prefix} after`);
          if (got.length === 2) controller.abort();
        }
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    })();
    await reading;
    expect(got).toEqual([`${prefix} before`, `${prefix} after`]);
  });

  it("fails with the precise code and an explanation", async () => {
    const anonymous = createUserClient({ baseUrl: server.url, protocol });
    try {
      const error = await anonymous.getUser(1).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(ConnectError.from(error).code).toBe(Code.Unauthenticated);
      const explained = explainError(error);
      expect(explained.code).toBe("UNAUTHENTICATED");
      expect(explained.suggestions[0]).toBe("Check the authentication token");

      const invalid = await anonymous.createUser({ username: "x", email: "nope", password: "1" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const details = explainError(invalid);
      expect(details.code).toBe("INVALID_ARGUMENT");
      expect(details.violations.map((v) => v.field).sort()).toEqual(["email", "password", "username"]);
    } finally {
      anonymous.close();
    }
  });

  it("checkConnection reports the server as reachable and serving", async () => {
    const [report] = await client.checkConnection({ timeoutMs: 2000 });
    expect(report?.connected).toBe(true);
    expect(report?.status).toBe("SERVING");
    expect(report?.url).toBe(server.url);
  });
});

describe("connections", () => {
  it.each(["grpc", "connect", "grpc-web"] as const)("%s reuses one connection for many calls, streams included", async (protocol) => {
    const relay = await countingRelay(server.port);
    const client = createUserClient({ baseUrl: relay.url, protocol });
    try {
      await client.login("admin", TEST_ADMIN_PASSWORD);
      await Promise.all(Array.from({ length: 10 }, () => client.whoAmI()));
      for (let i = 0; i < 5; i++) await client.getUser(1);
      await collect(client.listUsers({ pageSize: 3 }));
      expect(relay.connections()).toBe(1);
    } finally {
      client.close();
      await relay.close();
    }
  });

  it("a fresh client sends no token until login, and setToken(undefined) forgets it", async () => {
    const client = createUserClient({ baseUrl: server.url });
    try {
      expect(client.token).toBeUndefined();
      await client.login("admin", TEST_ADMIN_PASSWORD);
      expect((await client.whoAmI()).username).toBe("admin");
      client.setToken(undefined);
      await expect(client.whoAmI()).rejects.toMatchObject({ code: Code.Unauthenticated });
    } finally {
      client.close();
    }
  });
});
