import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationErrorSchema } from "../gen/common/error_pb.js";
import { ChatMessageSchema, CreateUserRequestSchema, UserStatus, type ChatMessage } from "../gen/user/user_pb.js";
import { clientsFor, loginToken, type Protocol } from "./support/clients.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";
import { collect, failure } from "./support/rpc-expect.js";

let server: TestServer;
let adminToken: string;

beforeAll(async () => {
  server = await startTestServer();
  adminToken = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
});
afterAll(async () => {
  await server.close();
});

/** Each protocol, and the HTTP versions it is served on from the one port. */
const variants: { protocol: Protocol; httpVersion: "1.1" | "2"; binary: boolean }[] = [
  { protocol: "grpc", httpVersion: "2", binary: true },
  { protocol: "grpc-web", httpVersion: "1.1", binary: true },
  { protocol: "grpc-web", httpVersion: "2", binary: true },
  { protocol: "connect", httpVersion: "1.1", binary: false },
  { protocol: "connect", httpVersion: "1.1", binary: true },
  { protocol: "connect", httpVersion: "2", binary: false },
];

describe.each(variants)("$protocol over HTTP/$httpVersion (binary: $binary)", ({ protocol, httpVersion, binary }) => {
  const tag = `${protocol.replace("-", "")}${httpVersion.replace(".", "")}${binary ? "b" : "j"}`;
  const admin = () => clientsFor(protocol, server.url, { token: adminToken, httpVersion, binary });
  const anonymous = () => clientsFor(protocol, server.url, { httpVersion, binary });

  it("runs the user lifecycle: sign up, log in, get, update, list, delete", async () => {
    const created = await anonymous().users.createUser({ username: `life_${tag}`, email: `life_${tag}@example.com`, password: "password123", fullName: "Life Cycle" });
    expect(created).toMatchObject({ success: true, message: "User created successfully" });
    const id = created.user?.id ?? 0n;
    const login = await anonymous().auth.login({ username: `LIFE_${tag}`, password: "password123" });
    expect(login.user?.id).toBe(id);
    expect(Number(login.expiresAt)).toBeGreaterThan(Date.now());
    const self = clientsFor(protocol, server.url, { token: login.accessToken, httpVersion, binary });
    expect((await self.auth.whoAmI({})).user?.username).toBe(`life_${tag}`);
    const got = await self.users.getUser({ userId: id, fields: ["username", "email"] });
    expect(got).toMatchObject({ found: true, user: { username: `life_${tag}`, email: `life_${tag}@example.com`, fullName: "" } });
    const updated = await self.users.updateUser({ userId: id, fullName: "Updated" });
    expect(updated.user).toMatchObject({ fullName: "Updated", username: `life_${tag}` });
    const listed = await collect(self.users.listUsers({ search: `life_${tag}` }));
    expect(listed.map((u) => [u.id, u.fullName, u.status])).toEqual([[id, "Updated", UserStatus.ACTIVE]]);
    expect(await self.users.deleteUser({ userId: id, softDelete: true })).toMatchObject({ success: true });
    // A soft-deleted account's token stops working at once.
    expect((await failure(self.users.getUser({ userId: id }))).code).toBe(Code.Unauthenticated);
    expect((await admin().users.getUser({ userId: id })).user?.status).toBe(UserStatus.DELETED);
  });

  it("carries the same codes and validation details", async () => {
    const invalid = await failure(anonymous().users.createUser({ username: "", email: "x", password: "" }));
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => e.field)).toEqual(["username", "email", "password"]);
    expect((await failure(anonymous().users.createUser({ username: "admin", email: `dup_${tag}@example.com`, password: "password123" }))).code).toBe(Code.AlreadyExists);
    expect((await failure(anonymous().users.getUser({ userId: 1n }))).code).toBe(Code.Unauthenticated);
    expect((await failure(admin().users.updateUser({ userId: 99999n, fullName: "x" }))).code).toBe(Code.NotFound);
    expect((await failure(admin().users.deleteUser({ userId: 99999n }))).code).toBe(Code.NotFound);
    expect((await failure(collect(admin().users.listUsers({ sortBy: "nope" })))).code).toBe(Code.InvalidArgument);
    expect((await failure(anonymous().auth.login({ username: `ghost_${tag}`, password: "wrong-password" }))).code).toBe(Code.Unauthenticated);
    expect((await admin().users.getUser({ userId: 99999n })).found).toBe(false);
  });

  it("streams a client stream into BatchCreateUsers", async () => {
    async function* items() {
      for (let i = 0; i < 3; i++) {
        yield create(CreateUserRequestSchema, { username: `batch${i}_${tag}`, email: `batch${i}_${tag}@example.com`, password: "password123" });
      }
      yield create(CreateUserRequestSchema, { username: `batch0_${tag}`, email: `again_${tag}@example.com`, password: "password123" });
    }
    const res = await admin().users.batchCreateUsers(items());
    expect([res.successCount, res.errorCount]).toEqual([3, 1]);
    expect(res.itemErrors.map((e) => [e.index, e.code])).toEqual([[3, "ALREADY_EXISTS"]]);
  });
});

describe.each(variants.filter((v) => v.httpVersion === "2"))("bidi over $protocol on HTTP/2 (binary: $binary)", ({ protocol, httpVersion, binary }) => {
  const tag = `bidi${protocol.replace("-", "")}${binary ? "b" : "j"}`;
  it("runs a bidirectional chat", async () => {
    const me = clientsFor(protocol, server.url, { token: adminToken, httpVersion, binary });
    const sent: ChatMessage[] = [create(ChatMessageSchema, { content: `ping ${tag}` }), create(ChatMessageSchema, { content: `pong ${tag}` })];
    async function* input() {
      for (const m of sent) yield m;
    }
    const received = await collect(me.users.userChat(input()));
    expect(received.map((m) => [m.content, m.fromUserId, m.fromUsername])).toEqual([
      [`ping ${tag}`, 1n, "admin"],
      [`pong ${tag}`, 1n, "admin"],
    ]);
    expect(received[1]?.id).toBe((received[0]?.id ?? 0n) + 1n);
  });
});

describe("bidi streaming over HTTP/1.1", () => {
  it.each(["grpc-web", "connect"] as const)("is refused with HTTP 505 over %s, and nothing is stored", async (protocol) => {
    const before = server.app.hub.subscriberCount();
    const lastStored = await server.app.storage.chat.latestId();
    const c = clientsFor(protocol, server.url, { token: adminToken, httpVersion: "1.1" });
    async function* input() {
      yield create(ChatMessageSchema, { content: "over http/1.1" });
    }
    const err = await failure(collect(c.users.userChat(input())));
    expect(err.message).toContain("HTTP 505");
    expect(server.app.hub.subscriberCount()).toBe(before);
    expect(await server.app.storage.chat.latestId()).toBe(lastStored);
  });
});
