import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusinessErrorSchema, ValidationErrorSchema } from "../../gen/common/error_pb.js";
import { ChatMessageSchema, CreateUserRequestSchema, MessageType, UserStatus, type ChatMessage } from "../../gen/user/user_pb.js";
type ChatInit = MessageInitShape<typeof ChatMessageSchema>;
import { createRouterFixture, type RouterFixture } from "../../test/support/router-fixture.js";
import { collect, failure } from "../../test/support/rpc-expect.js";

let f: RouterFixture;

beforeAll(async () => {
  f = await createRouterFixture();
});
afterAll(async () => {
  await f.close();
});

describe("GetUser", () => {
  it("requires user_id", async () => {
    const err = await failure(f.users(f.adminToken).getUser({ userId: 0n }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => e.field)).toEqual(["user_id"]);
  });

  it("answers found=false for an unknown id, as the seed does", async () => {
    const res = await f.users(f.adminToken).getUser({ userId: 987654n });
    expect(res.found).toBe(false);
    expect(res.user).toBeUndefined();
  });

  it("returns the user, and only the requested fields when asked", async () => {
    const all = await f.users(f.adminToken).getUser({ userId: 1n });
    expect(all.found).toBe(true);
    expect(all.user).toMatchObject({ id: 1n, username: "admin", email: "admin@example.com", status: UserStatus.ACTIVE, roles: ["admin", "user"] });
    const some = await f.users(f.adminToken).getUser({ userId: 1n, fields: ["username", "full_name"] });
    expect(some.user).toMatchObject({ id: 0n, username: "admin", fullName: "Administrator", email: "", roles: [], createdAt: 0n });
  });

  it("rejects unknown field names, listing each", async () => {
    const err = await failure(f.users(f.adminToken).getUser({ userId: 1n, fields: ["username", "password", "secret"] }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => [e.field, e.code])).toEqual([
      ["fields", "UNKNOWN_FIELD"],
      ["fields", "UNKNOWN_FIELD"],
    ]);
  });

  it("needs a token", async () => {
    expect((await failure(f.users().getUser({ userId: 1n }))).code).toBe(Code.Unauthenticated);
  });
});

describe("CreateUser", () => {
  it("signs up with roles [user], status active and timestamps", async () => {
    const before = Date.now();
    const res = await f.users().createUser({ username: "Carol", email: "carol@example.com", password: "password123", fullName: "Carol C", roles: ["user"], metadata: { team: "blue" } });
    expect(res.success).toBe(true);
    expect(res.user).toMatchObject({ username: "carol", email: "carol@example.com", fullName: "Carol C", status: UserStatus.ACTIVE, roles: ["user"], metadata: { team: "blue" } });
    expect(Number(res.user?.createdAt)).toBeGreaterThanOrEqual(before);
    expect(res.user?.updatedAt).toBe(res.user?.createdAt);
    const stored = await f.storage.users.getById(Number(res.user?.id));
    expect(stored?.passwordHash).toMatch(/^\$2b\$04\$/);
  });

  it("lists every invalid field in one common.ValidationError", async () => {
    const err = await failure(f.users().createUser({ username: "x", email: "not-an-email", password: "short" }));
    expect(err.code).toBe(Code.InvalidArgument);
    const detail = err.findDetails(ValidationErrorSchema)[0];
    expect(detail?.errors.map((e) => [e.field, e.code])).toEqual([
      ["username", "INVALID_LENGTH"],
      ["email", "INVALID_FORMAT"],
      ["password", "TOO_SHORT"],
    ]);
    expect(err.findDetails(BusinessErrorSchema)[0]?.errorCode).toBe("VALIDATION_FAILED");
  });

  it("refuses passwords over 72 bytes instead of truncating", async () => {
    const err = await failure(f.users().createUser({ username: "longpw", email: "longpw@example.com", password: "p".repeat(73) }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ValidationErrorSchema)[0]?.errors[0]).toMatchObject({ field: "password", code: "TOO_LONG" });
    expect(await f.storage.users.findByLogin("longpw")).toBeUndefined();
  });

  it("keeps usernames and emails unique regardless of case", async () => {
    await f.users().createUser({ username: "dave", email: "dave@example.com", password: "password123" });
    const byName = await failure(f.users().createUser({ username: "DAVE", email: "other@example.com", password: "password123" }));
    expect(byName.code).toBe(Code.AlreadyExists);
    expect(byName.message).toContain("username already exists");
    const byEmail = await failure(f.users().createUser({ username: "dave2", email: "Dave@Example.com", password: "password123" }));
    expect(byEmail.code).toBe(Code.AlreadyExists);
    expect(byEmail.message).toContain("email already exists");
    expect(await f.storage.users.findByLogin("dave2")).toBeUndefined();
  });

  it("lets an admin choose roles", async () => {
    const res = await f.users(f.adminToken).createUser({ username: "ops", email: "ops@example.com", password: "password123", roles: ["ops", "user"] });
    expect(res.user?.roles).toEqual(["ops", "user"]);
  });
});

describe("UpdateUser", () => {
  it("changes only the fields that are present and moves updated_at", async () => {
    const created = await f.users().createUser({ username: "erin", email: "erin@example.com", password: "password123", fullName: "Erin", avatarUrl: "https://example.com/e.png", metadata: { a: "1" } });
    const id = created.user?.id ?? 0n;
    await new Promise((r) => setTimeout(r, 5));
    const res = await f.users(f.adminToken).updateUser({ userId: id, fullName: "Erin E" });
    expect(res.user).toMatchObject({ username: "erin", email: "erin@example.com", fullName: "Erin E", avatarUrl: "https://example.com/e.png", roles: ["user"], metadata: { a: "1" }, status: UserStatus.ACTIVE });
    expect(Number(res.user?.updatedAt)).toBeGreaterThan(Number(created.user?.updatedAt));
    // An empty string is a present value: it clears the field.
    const cleared = await f.users(f.adminToken).updateUser({ userId: id, avatarUrl: "" });
    expect(cleared.user?.avatarUrl).toBe("");
    expect(cleared.user?.fullName).toBe("Erin E");
  });

  it("replaces roles and metadata only when non-empty", async () => {
    const created = await f.users().createUser({ username: "frank", email: "frank@example.com", password: "password123", metadata: { a: "1" } });
    const id = created.user?.id ?? 0n;
    const res = await f.users(f.adminToken).updateUser({ userId: id, roles: ["user", "editor"], metadata: { b: "2" } });
    expect(res.user?.roles).toEqual(["user", "editor"]);
    expect(res.user?.metadata).toEqual({ b: "2" });
    const unchanged = await f.users(f.adminToken).updateUser({ userId: id, roles: [], metadata: {} });
    expect(unchanged.user?.roles).toEqual(["user", "editor"]);
    expect(unchanged.user?.metadata).toEqual({ b: "2" });
  });

  it("answers NOT_FOUND, ALREADY_EXISTS and INVALID_ARGUMENT without changing anything", async () => {
    expect((await failure(f.users(f.adminToken).updateUser({ userId: 999999n, fullName: "x" }))).code).toBe(Code.NotFound);
    const a = await f.users().createUser({ username: "gina", email: "gina@example.com", password: "password123" });
    const id = a.user?.id ?? 0n;
    expect((await failure(f.users(f.adminToken).updateUser({ userId: id, username: "ADMIN" }))).code).toBe(Code.AlreadyExists);
    expect((await failure(f.users(f.adminToken).updateUser({ userId: id, email: "bad", username: "x" }))).findDetails(ValidationErrorSchema)[0]?.errors.map((e) => e.field)).toEqual(["username", "email"]);
    expect((await failure(f.users(f.adminToken).updateUser({ userId: id, status: UserStatus.UNSPECIFIED }))).code).toBe(Code.InvalidArgument);
    const after = await f.users(f.adminToken).getUser({ userId: id });
    expect(after.user).toMatchObject({ username: "gina", email: "gina@example.com", updatedAt: a.user?.updatedAt });
  });
});

describe("DeleteUser and ListUsers", () => {
  let ids: Record<string, bigint>;

  beforeAll(async () => {
    ids = {};
    const people = [
      ["list_anna", "anna@list.test", "Anna Smith", ["user"]],
      ["list_bob", "bob@list.test", "Bob Jones", ["user", "editor"]],
      ["list_cleo", "cleo@list.test", "Cleo 50% Off", ["auditor"]],
      ["list_dan", "dan@list.test", "Dan Smith", ["user"]],
    ] as const;
    for (const [username, email, fullName, roles] of people) {
      const res = await f.users(f.adminToken).createUser({ username, email, fullName, password: "password123", roles: [...roles] });
      ids[username] = res.user?.id ?? 0n;
    }
  });

  const names = async (req: Parameters<ReturnType<RouterFixture["users"]>["listUsers"]>[0], token = f.adminToken) =>
    (await collect(f.users(token).listUsers(req))).map((u) => u.username);

  it("treats status UNSPECIFIED as no filter (the seed dropped every user here)", async () => {
    expect(await names({ search: "@list.test", status: UserStatus.UNSPECIFIED })).toEqual(["list_anna", "list_bob", "list_cleo", "list_dan"]);
  });

  it("searches username, email and full name case-insensitively, with wildcards taken literally", async () => {
    expect(await names({ search: "SMITH" })).toEqual(["list_anna", "list_dan"]);
    expect(await names({ search: "BOB@LIST" })).toEqual(["list_bob"]);
    expect(await names({ search: "50%" })).toEqual(["list_cleo"]);
    expect(await names({ search: "list_" })).toEqual(["list_anna", "list_bob", "list_cleo", "list_dan"]);
    expect(await names({ search: "lis__anna" })).toEqual([]);
  });

  it("filters by any of the roles", async () => {
    expect(await names({ search: "@list.test", roles: ["editor", "auditor"] })).toEqual(["list_bob", "list_cleo"]);
  });

  it("sorts by each allowed field and pages", async () => {
    expect(await names({ search: "@list.test", sortBy: "full_name", sortOrder: "desc" })).toEqual(["list_dan", "list_cleo", "list_bob", "list_anna"]);
    expect(await names({ search: "@list.test", sortBy: "email" })).toEqual(["list_anna", "list_bob", "list_cleo", "list_dan"]);
    expect(await names({ search: "@list.test", sortBy: "created_at", sortOrder: "desc", page: 1, pageSize: 3 })).toEqual(["list_dan", "list_cleo", "list_bob"]);
    expect(await names({ search: "@list.test", sortBy: "created_at", sortOrder: "desc", page: 2, pageSize: 3 })).toEqual(["list_anna"]);
    expect(await names({ search: "@list.test", page: 3, pageSize: 3 })).toEqual([]);
  });

  it("rejects a bad sort field, order or page size", async () => {
    for (const req of [{ sortBy: "password_hash" }, { sortOrder: "sideways" }, { pageSize: 1001 }, { page: -1 }]) {
      expect((await failure(collect(f.users(f.adminToken).listUsers(req)))).code).toBe(Code.InvalidArgument);
    }
  });

  it("soft delete hides a user from the list unless DELETED is asked for, and only admins may ask", async () => {
    const res = await f.users(f.adminToken).deleteUser({ userId: ids["list_dan"] ?? 0n, softDelete: true });
    expect(res).toMatchObject({ success: true, message: "User soft deleted successfully" });
    expect(await names({ search: "@list.test" })).toEqual(["list_anna", "list_bob", "list_cleo"]);
    expect(await names({ search: "@list.test", status: UserStatus.DELETED })).toEqual(["list_dan"]);
    const stored = await f.users(f.adminToken).getUser({ userId: ids["list_dan"] ?? 0n });
    expect(stored.user?.status).toBe(UserStatus.DELETED);
    const user = await f.signUp("list_viewer");
    expect((await failure(collect(f.users(user.token).listUsers({ status: UserStatus.DELETED })))).code).toBe(Code.PermissionDenied);
    expect((await f.users(user.token).getUser({ userId: ids["list_dan"] ?? 0n })).found).toBe(false);
  });

  it("hard delete removes the row; unknown ids are NOT_FOUND", async () => {
    const id = ids["list_cleo"] ?? 0n;
    await f.users(f.adminToken).deleteUser({ userId: id, softDelete: false });
    expect((await f.users(f.adminToken).getUser({ userId: id })).found).toBe(false);
    expect(await f.storage.users.getById(Number(id))).toBeUndefined();
    expect((await failure(f.users(f.adminToken).deleteUser({ userId: id, softDelete: false }))).code).toBe(Code.NotFound);
    expect((await failure(f.users(f.adminToken).deleteUser({ userId: 0n }))).code).toBe(Code.InvalidArgument);
  });
});

describe("BatchCreateUsers", () => {
  async function* items() {
    yield create(CreateUserRequestSchema, { username: "batch_one", email: "b1@batch.test", password: "password123" });
    yield create(CreateUserRequestSchema, { username: "b", email: "nope", password: "password123" });
    yield create(CreateUserRequestSchema, { username: "batch_two", email: "b2@batch.test", password: "password123", roles: ["editor"] });
    yield create(CreateUserRequestSchema, { username: "BATCH_ONE", email: "b3@batch.test", password: "password123" });
  }

  it("creates each valid item and reports each failed one by index", async () => {
    const res = await f.users(f.adminToken).batchCreateUsers(items());
    expect(res.successCount).toBe(2);
    expect(res.errorCount).toBe(2);
    expect(res.users.map((u) => [u.username, u.roles])).toEqual([
      ["batch_one", ["user"]],
      ["batch_two", ["editor"]],
    ]);
    expect(res.itemErrors.map((e) => [e.index, e.code, e.fields])).toEqual([
      [1, "INVALID_ARGUMENT", ["username", "email"]],
      [3, "ALREADY_EXISTS", ["username"]],
    ]);
    expect(res.errors).toEqual([expect.stringMatching(/^item 1: \(b\) invalid request/), "item 3: (BATCH_ONE) username already exists"]);
  });

  it("is refused to non-admins before anything is created", async () => {
    const user = await f.signUp("batch_outsider");
    async function* one() {
      yield create(CreateUserRequestSchema, { username: "sneaky_batch", email: "sneaky@batch.test", password: "password123" });
    }
    expect((await failure(f.users(user.token).batchCreateUsers(one()))).code).toBe(Code.PermissionDenied);
    expect(await f.storage.users.findByLogin("sneaky_batch")).toBeUndefined();
  });
});

describe("chat", () => {
  /** A client-side request stream that the test feeds message by message. */
  function feed() {
    const queue: ChatMessage[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    return {
      push(init: ChatInit) {
        queue.push(create(ChatMessageSchema, init));
        wake?.();
      },
      end() {
        done = true;
        wake?.();
      },
      async *stream() {
        for (;;) {
          const next = queue.shift();
          if (next !== undefined) yield next;
          else if (done) return;
          else await new Promise<void>((r) => (wake = r));
        }
      },
    };
  }

  it("delivers broadcasts to every session, DMs only to their two users, and receipts to the sender", async () => {
    const alice = await f.signUp("chat_alice");
    const bob = await f.signUp("chat_bob");
    const carl = await f.signUp("chat_carl");
    const inputs = { alice: feed(), bob: feed(), carl: feed() };
    const seen: Record<string, string[]> = { alice: [], bob: [], carl: [] };
    const sessions = Object.entries({ alice, bob, carl }).map(async ([name, who]) => {
      for await (const m of f.users(who.token).userChat(inputs[name as keyof typeof inputs].stream())) {
        seen[name]?.push(`${m.id}:${m.fromUsername}->${m.toUserId}:${m.content}`);
      }
    });
    await waitFor(() => f.routes.hub.subscriberCount() === 3);
    inputs.alice.push({ content: "hello all", type: MessageType.TEXT });
    await waitFor(() => seen["carl"]?.length === 1);
    inputs.bob.push({ toUserId: alice.id, content: "psst alice", fromUserId: bob.id });
    await waitFor(() => seen["alice"]?.length === 2);
    inputs.alice.end();
    inputs.bob.end();
    inputs.carl.end();
    await Promise.all(sessions);
    const [hello, psst] = seen["alice"] ?? [];
    expect(hello).toMatch(/^\d+:chat_alice->0:hello all$/);
    expect(psst).toMatch(new RegExp(`^\\d+:chat_bob->${alice.id}:psst alice$`));
    expect(seen["bob"]).toEqual([hello, psst]);
    expect(seen["carl"]).toEqual([hello]);
    expect(f.routes.hub.subscriberCount()).toBe(0);
  });

  it("rejects a message that claims another sender, and stores nothing", async () => {
    const mallory = await f.signUp("chat_mallory");
    const before = await f.storage.chat.latestId();
    const input = feed();
    input.push({ fromUserId: 1n, content: "I am the admin" });
    const err = await failure(collect(f.users(mallory.token).userChat(input.stream())));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(await f.storage.chat.latestId()).toBe(before);
    expect(f.routes.hub.subscriberCount()).toBe(0);
  });

  it("validates content and recipients on SendChatMessage", async () => {
    const sam = await f.signUp("chat_sam");
    const client = f.users(sam.token);
    expect((await failure(client.sendChatMessage({ content: "" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(client.sendChatMessage({ content: "x".repeat(4001) }))).code).toBe(Code.InvalidArgument);
    expect((await failure(client.sendChatMessage({ content: "hi", toUserId: 424242n }))).code).toBe(Code.NotFound);
    expect((await failure(client.sendChatMessage({ content: "hi", type: MessageType.SYSTEM }))).code).toBe(Code.PermissionDenied);
    const ok = await client.sendChatMessage({ content: "x".repeat(4000) });
    expect(ok.message).toMatchObject({ fromUserId: sam.id, fromUsername: "chat_sam", toUserId: 0n, type: MessageType.TEXT });
    expect(ok.message?.id).toBeGreaterThan(0n);
  });

  it("SubscribeChat replays history, then live messages, and resumes after since_id", async () => {
    const tess = await f.signUp("chat_tess");
    const uma = await f.signUp("chat_uma");
    const first = (await f.users(tess.token).sendChatMessage({ content: "one" })).message?.id ?? 0n;
    const second = (await f.users(uma.token).sendChatMessage({ content: "two", toUserId: tess.id })).message?.id ?? 0n;
    const controller = new AbortController();
    const got: ChatMessage[] = [];
    const reading = (async () => {
      try {
        for await (const m of f.users(tess.token).subscribeChat({ sinceId: first - 1n }, { signal: controller.signal })) got.push(m);
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    })();
    await waitFor(() => got.length === 3);
    const third = (await f.users(uma.token).sendChatMessage({ content: "three" })).message?.id ?? 0n;
    await waitFor(() => got.length === 4);
    controller.abort();
    await reading;
    // History, then a keep-alive (id 0) that marks its end, then live messages.
    expect(got.map((m) => [m.id, m.content])).toEqual([
      [first, "one"],
      [second, "two"],
      [0n, ""],
      [third, "three"],
    ]);
    await waitFor(() => f.routes.hub.subscriberCount() === 0);
    // Resuming from the second message yields only what came after it.
    const resumed: bigint[] = [];
    const again = new AbortController();
    const reading2 = (async () => {
      try {
        for await (const m of f.users(tess.token).subscribeChat({ sinceId: second }, { signal: again.signal })) if (m.id !== 0n) resumed.push(m.id);
      } catch {
        // cancelled below
      }
    })();
    await waitFor(() => resumed.length === 1);
    again.abort();
    await reading2;
    expect(resumed).toEqual([third]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
