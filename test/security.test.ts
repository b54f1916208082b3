/**
 * The security suite: what an attacker tries against a live server, over
 * gRPC, gRPC-Web and Connect alike. Every refusal is checked for its exact
 * code and message, and for leaving the data as it was.
 */
import { createSecretKey } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusinessErrorSchema, ValidationErrorSchema } from "../gen/common/error_pb.js";
import { ChatMessageSchema, CreateUserRequestSchema, MessageType, UserStatus, type User } from "../gen/user/user_pb.js";
import { sqliteFileIn } from "../server/storage/sqlite/sqlite-storage.js";
import { clientsFor, loginToken, protocols, type Protocol } from "./support/clients.js";
import { spawnServer } from "./support/spawn-server.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";
import { collect, failure } from "./support/rpc-expect.js";

const JWT_SECRET = "security-suite-secret-0123456789-abcdefgh";
const ISSUER = "polyglot-users";
const PASSWORD = "password123";

let server: TestServer;
let adminToken: string;
const ids: Record<"admin" | "alice" | "bob", bigint> = { admin: 0n, alice: 0n, bob: 0n };
const tokens: Record<"alice" | "bob", string> = { alice: "", bob: "" };
/** Every password and token the suite used, to look for in the logs at the end. */
const secrets = new Set<string>([TEST_ADMIN_PASSWORD, PASSWORD]);

beforeAll(async () => {
  // Debug level: request headers and bodies are logged too (redacted), which is where a leak would show.
  server = await startTestServer({ env: { JWT_SECRET, LOG_LEVEL: "debug" } });
  adminToken = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
  secrets.add(adminToken);
  ids.admin = (await clientsFor("connect", server.url, { token: adminToken }).auth.whoAmI({})).user?.id ?? 0n;
  for (const name of ["alice", "bob"] as const) {
    const created = await clientsFor("connect", server.url).users.createUser({ username: name, email: `${name}@example.com`, password: PASSWORD });
    ids[name] = created.user?.id ?? 0n;
    tokens[name] = await loginToken(server.url, name, PASSWORD);
    secrets.add(tokens[name]);
  }
});
afterAll(async () => {
  await server?.close();
});

const as = (protocol: Protocol, token?: string) => clientsFor(protocol, server.url, token === undefined ? {} : { token });
const admin = () => as("connect", adminToken);

/** The full stored state of a user, as an admin sees it. */
async function snapshot(id: bigint): Promise<User | undefined> {
  const res = await admin().users.getUser({ userId: id });
  return res.found ? res.user : undefined;
}

async function userCount(): Promise<number> {
  return (await collect(admin().users.listUsers({ pageSize: 1000 }))).length + (await collect(admin().users.listUsers({ pageSize: 1000, status: UserStatus.DELETED }))).length;
}

/** A JWT with the server's claims, signed however the attack needs. */
function claims(overrides: { sub?: string; iss?: string; aud?: string; exp?: number; roles?: unknown } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: overrides.roles ?? ["user", "admin"], name: "admin" })
    .setSubject(overrides.sub ?? String(ids.admin))
    .setIssuer(overrides.iss ?? ISSUER)
    .setAudience(overrides.aud ?? ISSUER)
    .setIssuedAt(now - 120)
    .setExpirationTime(overrides.exp ?? now + 600);
}
const serverKey = () => createSecretKey(Buffer.from(JWT_SECRET, "utf8"));

describe("tokens", () => {
  const attacks: [string, () => Promise<string | undefined>, string][] = [
    ["no token", async () => undefined, "missing bearer token"],
    ["a garbage token", async () => "garbage.garbage.garbage", "invalid token"],
    [
      "an unsigned token (alg: none)",
      async () =>
        new UnsecuredJWT({ roles: ["admin"] }).setSubject(String(ids.admin)).setIssuer(ISSUER).setAudience(ISSUER).setExpirationTime("10m").encode(),
      "invalid token",
    ],
    ["a token signed with another key", () => claims().setProtectedHeader({ alg: "HS256" }).sign(createSecretKey(Buffer.from("not-the-server-secret-0123456789-xyz"))), "invalid token"],
    ["an HS512 token with the server's key", () => claims().setProtectedHeader({ alg: "HS512" }).sign(serverKey()), "invalid token"],
    ["an expired token", () => claims({ exp: Math.floor(Date.now() / 1000) - 60 }).setProtectedHeader({ alg: "HS256" }).sign(serverKey()), "token expired"],
    ["a token for another audience", () => claims({ aud: "another-service" }).setProtectedHeader({ alg: "HS256" }).sign(serverKey()), "invalid token"],
    ["a token from another issuer", () => claims({ iss: "another-issuer" }).setProtectedHeader({ alg: "HS256" }).sign(serverKey()), "invalid token"],
    [
      "alice's token with the payload changed to admin",
      async () => {
        const [header, payload, signature] = tokens.alice.split(".") as [string, string, string];
        const body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
        const forged = Buffer.from(JSON.stringify({ ...body, sub: String(ids.admin), roles: ["user", "admin"] })).toString("base64url");
        return `${header}.${forged}.${signature}`;
      },
      "invalid token",
    ],
  ];

  it.each(attacks)("refuses %s with the same UNAUTHENTICATED over every protocol, and nothing changes", async (_name, makeToken, message) => {
    const token = await makeToken();
    const bobBefore = await snapshot(ids.bob);
    const countBefore = await userCount();
    for (const protocol of protocols) {
      const c = as(protocol, token);
      const outcomes = [
        await failure(c.auth.whoAmI({})),
        await failure(c.users.getUser({ userId: ids.bob })),
        await failure(c.users.updateUser({ userId: ids.bob, fullName: "pwned", status: UserStatus.SUSPENDED })),
        await failure(c.users.deleteUser({ userId: ids.bob, softDelete: false })),
        await failure(collect(c.users.listUsers({}))),
        await failure(c.users.batchCreateUsers((async function* () {
          yield create(CreateUserRequestSchema, { username: `forged_${protocol.replace("-", "")}`, email: `forged_${protocol.replace("-", "")}@example.com`, password: PASSWORD });
        })())),
      ];
      for (const error of outcomes) {
        expect([protocol, error.code, error.rawMessage]).toEqual([protocol, Code.Unauthenticated, message]);
      }
    }
    expect(await snapshot(ids.bob)).toEqual(bobBefore);
    expect(await userCount()).toBe(countBefore);
  });

  it("still checks a bad token sent to a public procedure", async () => {
    for (const protocol of protocols) {
      const error = await failure(as(protocol, "garbage.garbage.garbage").auth.login({ username: "alice", password: PASSWORD }));
      expect([error.code, error.rawMessage]).toEqual([Code.Unauthenticated, "invalid token"]);
    }
  });

  it("accepts a token the server signed, over every protocol", async () => {
    for (const protocol of protocols) {
      expect((await as(protocol, tokens.alice).auth.whoAmI({})).user?.id).toBe(ids.alice);
    }
  });
});

describe("the signing secret", () => {
  it("refuses to start with NODE_ENV=production and no JWT_SECRET, saying why", async () => {
    const error = await spawnServer({ NODE_ENV: "production" }).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/server exited \(2\) before listening/);
    expect(error?.message).toMatch(/JWT_SECRET: required when NODE_ENV=production \(at least 32 bytes\)/);
  });

  it("refuses a JWT_SECRET shorter than 32 bytes", async () => {
    const error = await spawnServer({ JWT_SECRET: "only-31-bytes-long-secret-value" }).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/JWT_SECRET: must be at least 32 bytes/);
  });

  it("without JWT_SECRET makes a random one per process and warns", async () => {
    const a = await startTestServer();
    const b = await startTestServer();
    try {
      expect(a.logs.some((l) => l["level"] === 40 && String(l["msg"]).startsWith("JWT_SECRET is not set"))).toBe(true);
      const token = await loginToken(a.url, "admin", TEST_ADMIN_PASSWORD);
      expect((await clientsFor("grpc", a.url, { token }).auth.whoAmI({})).user?.username).toBe("admin");
      const error = await failure(clientsFor("grpc", b.url, { token }).auth.whoAmI({}));
      expect([error.code, error.rawMessage]).toEqual([Code.Unauthenticated, "invalid token"]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("access rules between users", () => {
  it("lets alice read the directory, without hashes, but not deleted users", async () => {
    for (const protocol of protocols) {
      const res = await as(protocol, tokens.alice).users.getUser({ userId: ids.bob });
      expect(res.user).toMatchObject({ id: ids.bob, username: "bob", email: "bob@example.com" });
      expect(JSON.stringify(res, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toMatch(/\$2[aby]\$/);
      const error = await failure(collect(as(protocol, tokens.alice).users.listUsers({ status: UserStatus.DELETED })));
      expect([error.code, error.rawMessage]).toEqual([Code.PermissionDenied, "only admins may list deleted users"]);
    }
  });

  it("refuses alice updating or deleting bob, soft or hard, and bob stays as he was", async () => {
    const before = await snapshot(ids.bob);
    for (const protocol of protocols) {
      const c = as(protocol, tokens.alice);
      const update = await failure(c.users.updateUser({ userId: ids.bob, fullName: "Bob was here", email: "alice-owns@example.com" }));
      expect([update.code, update.rawMessage]).toEqual([Code.PermissionDenied, "you may only update your own account"]);
      const soft = await failure(c.users.deleteUser({ userId: ids.bob, softDelete: true }));
      expect([soft.code, soft.rawMessage]).toEqual([Code.PermissionDenied, "you may only delete your own account"]);
      const hard = await failure(c.users.deleteUser({ userId: ids.bob, softDelete: false }));
      expect([hard.code, hard.rawMessage]).toEqual([Code.PermissionDenied, "only admins may delete users permanently"]);
    }
    expect(await snapshot(ids.bob)).toEqual(before);
    // And bob can still do everything he could.
    expect((await as("connect", tokens.bob).auth.whoAmI({})).user?.status).toBe(UserStatus.ACTIVE);
  });

  it("refuses alice granting herself admin, or changing her own status, through UpdateUser", async () => {
    const before = await snapshot(ids.alice);
    for (const protocol of protocols) {
      const c = as(protocol, tokens.alice);
      const roles = await failure(c.users.updateUser({ userId: ids.alice, roles: ["user", "admin"] }));
      expect([roles.code, roles.rawMessage]).toEqual([Code.PermissionDenied, "only admins may change roles"]);
      // Mixed with an allowed change, the forbidden part still refuses the whole call.
      const mixed = await failure(c.users.updateUser({ userId: ids.alice, fullName: "Alice Admin", roles: ["admin"] }));
      expect(mixed.code).toBe(Code.PermissionDenied);
      const status = await failure(c.users.updateUser({ userId: ids.alice, status: UserStatus.ACTIVE }));
      expect([status.code, status.rawMessage]).toEqual([Code.PermissionDenied, "only admins may change status"]);
    }
    expect(await snapshot(ids.alice)).toEqual(before);
    // Her token still carries no admin power: an admin-only call is refused.
    expect((await failure(collect(as("grpc", tokens.alice).users.listUsers({ status: UserStatus.DELETED })))).code).toBe(Code.PermissionDenied);
  });

  it("lets alice update her own profile", async () => {
    const res = await as("grpc", tokens.alice).users.updateUser({ userId: ids.alice, fullName: "Alice Liddell" });
    expect(res.user).toMatchObject({ id: ids.alice, fullName: "Alice Liddell", roles: ["user"], status: UserStatus.ACTIVE });
  });

  it("refuses BatchCreateUsers from a non-admin before creating anything", async () => {
    const before = await userCount();
    for (const protocol of ["grpc", "connect"] as const) {
      const c = clientsFor(protocol, server.url, { token: tokens.alice, httpVersion: "2" });
      const error = await failure(c.users.batchCreateUsers((async function* () {
        yield create(CreateUserRequestSchema, { username: `batch_by_alice_${protocol}`, email: `batch_by_alice_${protocol}@example.com`, password: PASSWORD, roles: ["admin"] });
      })()));
      expect([error.code, error.rawMessage]).toEqual([Code.PermissionDenied, "only admins may create users this way"]);
    }
    expect(await userCount()).toBe(before);
  });

  it("refuses a sign-up that asks for roles other than [user], creating nothing; a plain sign-up gets [user] and ACTIVE", async () => {
    const before = await userCount();
    for (const protocol of protocols) {
      const tag = protocol.replace("-", "");
      for (const roles of [["admin"], ["user", "admin"], ["superuser"]]) {
        const error = await failure(as(protocol).users.createUser({ username: `climber_${tag}`, email: `climber_${tag}@example.com`, password: PASSWORD, roles }));
        expect([error.code, error.rawMessage]).toEqual([Code.PermissionDenied, "only admins may set roles"]);
      }
      // A signed-in non-admin is a sign-up too.
      const byAlice = await failure(as(protocol, tokens.alice).users.createUser({ username: `climber_${tag}`, email: `climber_${tag}@example.com`, password: PASSWORD, roles: ["admin"] }));
      expect(byAlice.code).toBe(Code.PermissionDenied);
    }
    expect(await userCount()).toBe(before);
    expect((await failure(as("connect").auth.login({ username: "climber_grpc", password: PASSWORD }))).code).toBe(Code.Unauthenticated);
    const plain = await as("grpc").users.createUser({ username: "plain_signup", email: "plain_signup@example.com", password: PASSWORD, roles: ["user"] });
    expect(plain.user).toMatchObject({ roles: ["user"], status: UserStatus.ACTIVE });
  });

  it("lets alice soft-delete only herself, after which her token and password stop working", async () => {
    const created = await as("connect").users.createUser({ username: "leaver", email: "leaver@example.com", password: PASSWORD });
    const id = created.user?.id ?? 0n;
    const token = await loginToken(server.url, "leaver", PASSWORD);
    const hard = await failure(as("grpc", token).users.deleteUser({ userId: id, softDelete: false }));
    expect(hard.code).toBe(Code.PermissionDenied);
    expect((await snapshot(id))?.status).toBe(UserStatus.ACTIVE);
    await as("grpc", token).users.deleteUser({ userId: id, softDelete: true });
    expect((await snapshot(id))?.status).toBe(UserStatus.DELETED);
    for (const protocol of protocols) {
      const error = await failure(as(protocol, token).auth.whoAmI({}));
      expect([error.code, error.rawMessage]).toEqual([Code.Unauthenticated, "account is not active"]);
      const login = await failure(as(protocol).auth.login({ username: "leaver", password: PASSWORD }));
      expect([login.code, login.rawMessage]).toEqual([Code.Unauthenticated, "invalid username or password"]);
    }
    // Non-admins no longer see the deleted account; admins do.
    expect((await as("connect", tokens.alice).users.getUser({ userId: id })).found).toBe(false);
  });

  it("locks out a suspended user at once: login fails like a wrong password and the old token is refused", async () => {
    await as("connect").users.createUser({ username: "suspect", email: "suspect@example.com", password: PASSWORD });
    const token = await loginToken(server.url, "suspect", PASSWORD);
    const id = (await as("connect", token).auth.whoAmI({})).user?.id ?? 0n;
    await admin().users.updateUser({ userId: id, status: UserStatus.SUSPENDED });
    for (const protocol of protocols) {
      expect((await failure(as(protocol, token).users.getUser({ userId: id }))).code).toBe(Code.Unauthenticated);
      const login = await failure(as(protocol).auth.login({ username: "suspect", password: PASSWORD }));
      expect([login.code, login.rawMessage]).toEqual([Code.Unauthenticated, "invalid username or password"]);
    }
    // Unsuspended, the same token works again: the row decides, not the token.
    await admin().users.updateUser({ userId: id, status: UserStatus.ACTIVE });
    expect((await as("grpc", token).auth.whoAmI({})).user?.id).toBe(id);
  });

  it("lets an admin set roles and status, hard-delete and list deleted users", async () => {
    const created = await admin().users.createUser({ username: "made_by_admin", email: "made_by_admin@example.com", password: PASSWORD, roles: ["user", "auditor"] });
    expect(created.user?.roles).toEqual(["user", "auditor"]);
    const id = created.user?.id ?? 0n;
    expect((await admin().users.updateUser({ userId: id, status: UserStatus.INACTIVE, roles: ["user"] })).user).toMatchObject({ status: UserStatus.INACTIVE, roles: ["user"] });
    await admin().users.deleteUser({ userId: id, softDelete: true });
    expect((await collect(admin().users.listUsers({ status: UserStatus.DELETED, search: "made_by_admin" }))).map((u) => u.id)).toEqual([id]);
    await admin().users.deleteUser({ userId: id, softDelete: false });
    expect(await snapshot(id)).toBeUndefined();
  });
});

describe("sign-up switched off (ALLOW_SIGNUP=false)", () => {
  it("refuses anonymous CreateUser as UNAUTHENTICATED and a user's as PERMISSION_DENIED, creating nothing; admins still create", async () => {
    const closed = await startTestServer({ env: { ALLOW_SIGNUP: "false" } });
    try {
      const adminT = await loginToken(closed.url, "admin", TEST_ADMIN_PASSWORD);
      const adminC = clientsFor("connect", closed.url, { token: adminT });
      await adminC.users.createUser({ username: "member", email: "member@example.com", password: PASSWORD });
      const memberT = await loginToken(closed.url, "member", PASSWORD);
      const count = async () => (await collect(adminC.users.listUsers({}))).length;
      const before = await count();
      for (const protocol of protocols) {
        const anon = await failure(clientsFor(protocol, closed.url).users.createUser({ username: "walkin", email: "walkin@example.com", password: PASSWORD }));
        expect([anon.code, anon.rawMessage]).toEqual([Code.Unauthenticated, "missing bearer token"]);
        const member = await failure(clientsFor(protocol, closed.url, { token: memberT }).users.createUser({ username: "walkin", email: "walkin@example.com", password: PASSWORD }));
        expect([member.code, member.rawMessage]).toEqual([Code.PermissionDenied, "sign-up is disabled"]);
      }
      expect(await count()).toBe(before);
    } finally {
      await closed.close();
    }
  });
});

describe("account enumeration", () => {
  it("answers an unknown user and a wrong password identically over every protocol", async () => {
    for (const protocol of protocols) {
      const unknown = await failure(as(protocol).auth.login({ username: "no_such_user_anywhere", password: PASSWORD }));
      const wrong = await failure(as(protocol).auth.login({ username: "bob", password: "not-bobs-password" }));
      const byEmail = await failure(as(protocol).auth.login({ username: "bob@example.com", password: "not-bobs-password" }));
      for (const error of [unknown, wrong, byEmail]) {
        expect([error.code, error.rawMessage]).toEqual([Code.Unauthenticated, "invalid username or password"]);
        expect(error.findDetails(BusinessErrorSchema).map((d) => d.errorCode)).toEqual(["UNAUTHENTICATED"]);
        expect(error.findDetails(ValidationErrorSchema)).toEqual([]);
      }
    }
  });

  it("does reveal a taken username or email at sign-up (inherent to sign-up; the rate limit is the defence)", async () => {
    const taken = await failure(as("connect").users.createUser({ username: "bob", email: "someone-new@example.com", password: PASSWORD }));
    expect([taken.code, taken.findDetails(BusinessErrorSchema)[0]?.errorCode]).toEqual([Code.AlreadyExists, "USERNAME_TAKEN"]);
    const email = await failure(as("connect").users.createUser({ username: "someone_new", email: "BOB@example.com", password: PASSWORD }));
    expect([email.code, email.findDetails(BusinessErrorSchema)[0]?.errorCode]).toEqual([Code.AlreadyExists, "EMAIL_TAKEN"]);
  });
});

describe("passwords longer than bcrypt reads (72 bytes)", () => {
  it("refuses a 73-byte (or 25 × 3-byte) password at sign-up with a TOO_LONG violation, creating nothing", async () => {
    const before = await userCount();
    for (const protocol of protocols) {
      const tag = protocol.replace("-", "");
      for (const password of ["p".repeat(73), "€".repeat(25)]) {
        const error = await failure(as(protocol).users.createUser({ username: `longpw_${tag}`, email: `longpw_${tag}@example.com`, password }));
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => [e.field, e.code])).toEqual([["password", "TOO_LONG"]]);
      }
    }
    expect(await userCount()).toBe(before);
  });

  it("does not log in with the 72-byte password plus extra bytes, which bcrypt alone would accept", async () => {
    const exact = "k".repeat(72);
    secrets.add(exact);
    await as("connect").users.createUser({ username: "maxpw", email: "maxpw@example.com", password: exact });
    for (const protocol of protocols) {
      const error = await failure(as(protocol).auth.login({ username: "maxpw", password: `${exact}EXTRA` }));
      expect([error.code, error.rawMessage]).toEqual([Code.Unauthenticated, "invalid username or password"]);
    }
    expect((await as("grpc").auth.login({ username: "maxpw", password: exact })).user?.username).toBe("maxpw");
  });
});

describe("brute force over the login throttle", () => {
  it("throttles an account after 5 failures across protocols, even with the right password, and leaves other accounts alone", async () => {
    const s = await startTestServer();
    try {
      for (const name of ["victim", "bystander"]) {
        await clientsFor("connect", s.url).users.createUser({ username: name, email: `${name}@example.com`, password: PASSWORD });
      }
      for (let i = 0; i < 5; i++) {
        const protocol = protocols[i % protocols.length] as Protocol;
        const error = await failure(clientsFor(protocol, s.url).auth.login({ username: "victim", password: `guess-${i}-password` }));
        expect(error.code).toBe(Code.Unauthenticated);
      }
      for (const protocol of protocols) {
        const throttled = await failure(clientsFor(protocol, s.url).auth.login({ username: "VICTIM", password: PASSWORD }));
        expect(throttled.code).toBe(Code.ResourceExhausted);
        expect(throttled.rawMessage).toMatch(/^too many failed logins for this account; retry in \d+ s$/);
        const retryAfter = Number(throttled.metadata.get("retry-after"));
        expect(retryAfter).toBeGreaterThan(800);
        expect(retryAfter).toBeLessThanOrEqual(900);
        expect(Number(throttled.findDetails(BusinessErrorSchema)[0]?.context["retry_after_ms"])).toBeGreaterThan(800_000);
      }
      expect((await clientsFor("grpc", s.url).auth.login({ username: "bystander", password: PASSWORD })).user?.username).toBe("bystander");
    } finally {
      await s.close();
    }
  });

  it("lets no more than 5 guesses through when 12 arrive at once", async () => {
    const s = await startTestServer();
    try {
      await clientsFor("connect", s.url).users.createUser({ username: "target", email: "target@example.com", password: PASSWORD });
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          failure(clientsFor(protocols[i % 3] as Protocol, s.url).auth.login({ username: "target", password: `parallel-guess-${i}` })),
        ),
      );
      expect(results.filter((e) => e.code === Code.Unauthenticated)).toHaveLength(5);
      expect(results.filter((e) => e.code === Code.ResourceExhausted)).toHaveLength(7);
    } finally {
      await s.close();
    }
  });
});

describe("chat rules", () => {
  it("sets the sender from the token and refuses a message claiming another sender, storing nothing", async () => {
    const before = await server.app.storage.chat.latestId();
    for (const protocol of ["grpc", "connect"] as const) {
      const c = clientsFor(protocol, server.url, { token: tokens.alice, httpVersion: "2" });
      const error = await failure(collect(c.users.userChat((async function* () {
        yield create(ChatMessageSchema, { fromUserId: ids.bob, content: `spoofed by alice over ${protocol}` });
      })())));
      expect([error.code, error.rawMessage]).toEqual([Code.PermissionDenied, "from_user_id must be your own id (or 0)"]);
    }
    expect(await server.app.storage.chat.latestId()).toBe(before);
    const sent = await as("grpc-web", tokens.alice).users.sendChatMessage({ content: "honest alice" });
    expect(sent.message).toMatchObject({ fromUserId: ids.alice, fromUsername: "alice", content: "honest alice" });
    // A UserChat message that names its real sender is accepted.
    const own = await collect(clientsFor("grpc", server.url, { token: tokens.alice }).users.userChat((async function* () {
      yield create(ChatMessageSchema, { fromUserId: ids.alice, content: "alice, signed" });
    })()));
    expect(own.map((m) => [m.fromUserId, m.content])).toEqual([[ids.alice, "alice, signed"]]);
  });

  it("checks recipient and content: unknown recipient NOT_FOUND, empty or 4001 characters INVALID_ARGUMENT, system type PERMISSION_DENIED", async () => {
    const before = await server.app.storage.chat.latestId();
    for (const protocol of protocols) {
      const c = as(protocol, tokens.alice);
      const nobody = await failure(c.users.sendChatMessage({ toUserId: 987654n, content: "hello?" }));
      expect([nobody.code, nobody.rawMessage]).toEqual([Code.NotFound, "recipient not found"]);
      for (const content of ["", "   ", "x".repeat(4001)]) {
        const error = await failure(c.users.sendChatMessage({ content }));
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => e.field)).toEqual(["content"]);
      }
      const system = await failure(c.users.sendChatMessage({ content: "official notice", type: MessageType.SYSTEM }));
      expect(system.code).toBe(Code.PermissionDenied);
    }
    expect(await server.app.storage.chat.latestId()).toBe(before);
    // 4000 characters, counted as characters (astral symbols are one each), is fine.
    const longest = await as("connect", tokens.alice).users.sendChatMessage({ toUserId: ids.bob, content: "😀".repeat(4000) });
    expect([...(longest.message?.content ?? "")]).toHaveLength(4000);
  });
});

/** Decodes google.rpc.Status by hand, as an independent gRPC client would: code, message, details as Any. */
interface AnyDetail {
  typeUrl: string;
  value: Uint8Array;
}
function decodeStatus(bytes: Uint8Array): { code: number; message: string; details: AnyDetail[] } {
  const reader = new BinaryReader(bytes);
  const status = { code: 0, message: "", details: [] as AnyDetail[] };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) status.code = reader.int32();
    else if (field === 2) status.message = reader.string();
    else if (field === 3) {
      const any = new BinaryReader(reader.bytes());
      const detail: AnyDetail = { typeUrl: "", value: new Uint8Array() };
      while (any.pos < any.len) {
        const [f, w] = any.tag();
        if (f === 1) detail.typeUrl = any.string();
        else if (f === 2) detail.value = any.bytes();
        else any.skip(w);
      }
      status.details.push(detail);
    } else reader.skip(wireType);
  }
  return status;
}

describe("error details and unexpected failures", () => {
  it("sends validation and business details in grpc-status-details-bin that @grpc/grpc-js receives as google.rpc.Status", async () => {
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const request = create(CreateUserRequestSchema, { username: "x", email: "not-an-email", password: "short" });
      const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
        client.makeUnaryRequest(
          "/user.UserService/CreateUser",
          (m: Uint8Array) => Buffer.from(m),
          (b: Buffer) => b,
          toBinary(CreateUserRequestSchema, request),
          new grpc.Metadata(),
          (err) => (err === null ? reject(new Error("expected a failure")) : resolve(err)),
        );
      });
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      const raw = error.metadata.get("grpc-status-details-bin")[0];
      expect(raw).toBeInstanceOf(Buffer);
      const status = decodeStatus(raw as Buffer);
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.message).toBe("invalid request: username: must be 3 to 32 characters; email: is not a valid email address; password: must be at least 8 bytes");
      // Connect percent-encodes grpc-message with encodeURIComponent and grpc-js decodes it with decodeURI,
      // so reserved characters such as ':' reach grpc-js callers as %3A; the details carry the plain text.
      expect(decodeURIComponent(error.details)).toBe(status.message);
      expect(status.details.map((d) => d.typeUrl)).toEqual(["type.googleapis.com/common.ValidationError", "type.googleapis.com/common.BusinessError"]);
      const validation = fromBinary(ValidationErrorSchema, status.details[0]?.value ?? new Uint8Array());
      expect(validation.errors.map((e) => [e.field, e.code])).toEqual([
        ["username", "INVALID_LENGTH"],
        ["email", "INVALID_FORMAT"],
        ["password", "TOO_SHORT"],
      ]);
      expect(fromBinary(BusinessErrorSchema, status.details[1]?.value ?? new Uint8Array()).errorCode).toBe("VALIDATION_FAILED");
    } finally {
      client.close();
    }
  });

  it("turns an unexpected failure into INTERNAL with a request id and no SQL, stack or path, and logs the cause", async () => {
    const s = await startTestServer();
    try {
      // Break the database under the running server, from outside, as a bad migration or a disk fault might.
      const db = new Database(sqliteFileIn(s.dataDir));
      db.exec("alter table users rename to users_gone");
      db.close();
      for (const protocol of protocols) {
        const error = await failure(clientsFor(protocol, s.url, { token: "x.y.z" }).auth.login({ username: "admin", password: TEST_ADMIN_PASSWORD }));
        expect(error.code).toBe(Code.Unauthenticated);
        const broken = await failure(clientsFor(protocol, s.url).auth.login({ username: "admin", password: TEST_ADMIN_PASSWORD }));
        expect(broken.code).toBe(Code.Internal);
        const requestId = broken.metadata.get("x-request-id") ?? "";
        expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(broken.rawMessage).toBe(`internal error (request id ${requestId})`);
        expect(broken.details).toEqual([]);
        const logged = s.logs.find((l) => l["requestId"] === requestId && l["msg"] === "handler failed unexpectedly");
        expect(JSON.stringify(logged)).toMatch(/no such table: users/);
      }
    } finally {
      await s.close();
    }
  });
});

describe("request ids and log lines", () => {
  it("echoes a well-formed x-request-id and replaces one that could forge a log line", async () => {
    const res = await fetch(`${server.url}/user.AuthService/WhoAmI`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.alice}`, "x-request-id": "trace-me_123" },
      body: "{}",
    });
    expect([res.status, res.headers.get("x-request-id")]).toEqual([200, "trace-me_123"]);
    const forged = `x","level":60,"msg":"forged`;
    const bad = await fetch(`${server.url}/user.AuthService/WhoAmI`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.alice}`, "x-request-id": forged },
      body: "{}",
    });
    expect(bad.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("keeps hostile values inside their JSON fields: no forged lines", async () => {
    const hostile = 'eve\n{"level":60,"msg":"forged admin login"}\r\n';
    await failure(as("connect").auth.login({ username: hostile, password: "irrelevant-password" }));
    await failure(as("connect").users.createUser({ username: hostile, email: "eve@example.com", password: PASSWORD }));
    expect(server.logs.some((l) => l["msg"] === "forged admin login")).toBe(false);
    expect(server.logs.some((l) => l["msg"] === "forged")).toBe(false);
  });

  it("never writes a password, hash or token into the log (checked last, over everything this suite did)", () => {
    expect(server.logs.length).toBeGreaterThan(50);
    const text = server.logs.map((l) => JSON.stringify(l)).join("\n");
    for (const secret of secrets) expect(text.includes(secret), `log contains ${secret.slice(0, 12)}…`).toBe(false);
    expect(text).not.toMatch(/\$2[aby]\$\d\d\$/);
    expect(text).not.toContain("not-bobs-password");
  });
});
