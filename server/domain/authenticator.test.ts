import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLoginThrottle } from "../security/login-throttle.js";
import { createPasswordHasher, type PasswordHasher } from "../security/password-hasher.js";
import { createTokenService } from "../security/token-service.js";
import type { Storage } from "../storage/ports.js";
import { openSqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { LOGIN_FAILED, createAuthenticator, type Authenticator } from "./authenticator.js";
import { DomainError } from "./errors.js";
import type { UserStatus } from "./types.js";

const PASSWORD = "correct horse battery";
const ADDRESS = "192.0.2.1";

let realHasher: PasswordHasher;
let storage: Storage;
/** bcrypt calls made through the real hasher, by kind, so tests can see equal work for every failure. */
let calls: { verify: number; verifyDummy: number };
let auth: Authenticator;
let tokens: ReturnType<typeof createTokenService>;

const ids: Record<string, number> = {};

beforeAll(async () => {
  realHasher = await createPasswordHasher({ cost: 4, threads: 1 });
  storage = await openSqliteStorage({ file: ":memory:" });
  const statuses: [string, UserStatus][] = [
    ["alice", "active"],
    ["sam", "suspended"],
    ["ina", "inactive"],
    ["dora", "deleted"],
  ];
  for (const [username, status] of statuses) {
    const row = await storage.users.create({
      username,
      email: `${username}@example.com`,
      passwordHash: await realHasher.hash(PASSWORD),
      fullName: "",
      avatarUrl: "",
      status,
      roles: ["user"],
      metadata: {},
      createdAt: Date.now(),
    });
    ids[username] = row.id;
  }
});
afterAll(async () => {
  await storage.close();
  await realHasher.close();
});

beforeEach(() => {
  calls = { verify: 0, verifyDummy: 0 };
  const counting: PasswordHasher = {
    hash: (p) => realHasher.hash(p),
    verify: (p, h) => (calls.verify++, realHasher.verify(p, h)),
    verifyDummy: (p) => (calls.verifyDummy++, realHasher.verifyDummy(p)),
    close: async () => {},
  };
  tokens = createTokenService({ secret: "x".repeat(32), issuer: "t", audience: "t", ttlSeconds: 3600, clock: { now: () => Date.now() } });
  auth = createAuthenticator({
    users: storage.users,
    hasher: counting,
    tokens,
    throttle: createLoginThrottle({ maxFailures: 5, windowSeconds: 900 }),
  });
});

async function loginFailure(username: string, password: string, address = ADDRESS): Promise<DomainError> {
  try {
    await auth.login(username, password, address);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error(`login of ${username} unexpectedly succeeded`);
}

describe("authenticator.login", () => {
  it("logs an active user in by username or email, in any case, with a token for their id", async () => {
    const byName = await auth.login("ALICE", PASSWORD, ADDRESS);
    const byEmail = await auth.login("alice@example.com", PASSWORD, ADDRESS);
    expect(byName.user).toMatchObject({ id: ids["alice"], username: "alice" });
    expect(byName.user).not.toHaveProperty("passwordHash");
    expect(byEmail.user.id).toBe(ids["alice"]);
    expect((await tokens.verify(byName.token)).userId).toBe(ids["alice"]);
  });

  it.each([
    ["an unknown user", "nobody", PASSWORD],
    ["a wrong password", "alice", "wrong password!"],
    ["an empty password", "alice", ""],
    ["an empty username", "", PASSWORD],
    ["a suspended user with the right password", "sam", PASSWORD],
    ["an inactive user with the right password", "ina", PASSWORD],
    ["a soft-deleted user with the right password", "dora", PASSWORD],
  ])("fails %s with the one message, after exactly one bcrypt check", async (_case, username, password) => {
    const error = await loginFailure(username, password);
    expect([error.kind, error.message]).toEqual(["unauthenticated", LOGIN_FAILED]);
    expect(calls.verify + calls.verifyDummy).toBe(1);
  });

  it("refuses a password longer than 72 bytes even when its first 72 bytes are the password (bcrypt would ignore the rest)", async () => {
    const long = "p".repeat(72);
    const row = await storage.users.create({
      username: "longpw",
      email: "longpw@example.com",
      passwordHash: await realHasher.hash(long),
      fullName: "",
      avatarUrl: "",
      status: "active",
      roles: ["user"],
      metadata: {},
      createdAt: Date.now(),
    });
    expect(await realHasher.verify(`${long}-suffix`, row.passwordHash)).toBe(true); // what bcrypt alone would do
    const error = await loginFailure("longpw", `${long}-suffix`);
    expect([error.kind, error.message]).toEqual(["unauthenticated", LOGIN_FAILED]);
    expect(calls).toEqual({ verify: 0, verifyDummy: 1 });
    expect((await auth.login("longpw", long, ADDRESS)).user.id).toBe(row.id);
  });

  it("throttles an account after 5 failures, even with the right password, and leaves other accounts alone", async () => {
    for (let i = 0; i < 5; i++) expect((await loginFailure("alice", `wrong-${i}-password`)).kind).toBe("unauthenticated");
    const throttled = await loginFailure("alice", PASSWORD);
    expect(throttled.kind).toBe("resource_exhausted");
    expect(throttled.details.retryAfterMs).toBeGreaterThan(0);
    // No bcrypt work is spent on a throttled attempt.
    expect(calls.verify + calls.verifyDummy).toBe(5);
    expect((await auth.login("longpw", "p".repeat(72), ADDRESS)).user.username).toBe("longpw");
  });

  it("throttles unknown accounts exactly like known ones, so the throttle does not reveal existence", async () => {
    for (let i = 0; i < 5; i++) await loginFailure("ghost", `wrong-${i}-password`);
    expect((await loginFailure("ghost", PASSWORD)).kind).toBe("resource_exhausted");
  });

  it("a successful login resets the account's count", async () => {
    for (let i = 0; i < 4; i++) await loginFailure("alice", "wrong password!");
    await auth.login("alice", PASSWORD, ADDRESS);
    for (let i = 0; i < 4; i++) expect((await loginFailure("alice", "wrong password!")).kind).toBe("unauthenticated");
  });

  it("does not look up absurdly long login names", async () => {
    const error = await loginFailure("a".repeat(100_000), PASSWORD);
    expect(error.message).toBe(LOGIN_FAILED);
    expect(calls.verifyDummy).toBe(1);
  });
});

describe("authenticator.principalFromToken", () => {
  it("takes roles and status from the current row, not from the token", async () => {
    const { token } = await auth.login("alice", PASSWORD, ADDRESS);
    await storage.users.update(ids["alice"] as number, { roles: ["user", "admin"], updatedAt: Date.now() });
    expect(await auth.principalFromToken(token)).toEqual({ userId: ids["alice"], username: "alice", roles: ["user", "admin"], isAdmin: true });
    await storage.users.update(ids["alice"] as number, { roles: ["user"], updatedAt: Date.now() });
    expect((await auth.principalFromToken(token)).isAdmin).toBe(false);
  });

  it("refuses the token of a user suspended or deleted after it was issued", async () => {
    const row = await storage.users.create({
      username: "later",
      email: "later@example.com",
      passwordHash: await realHasher.hash(PASSWORD),
      fullName: "",
      avatarUrl: "",
      status: "active",
      roles: ["user"],
      metadata: {},
      createdAt: Date.now(),
    });
    const { token } = await auth.login("later", PASSWORD, ADDRESS);
    await storage.users.update(row.id, { status: "suspended", updatedAt: Date.now() });
    await expect(auth.principalFromToken(token)).rejects.toMatchObject({ kind: "unauthenticated", message: "account is not active" });
    await storage.users.update(row.id, { status: "active", updatedAt: Date.now() });
    expect((await auth.principalFromToken(token)).userId).toBe(row.id);
    await storage.users.remove(row.id);
    await expect(auth.principalFromToken(token)).rejects.toMatchObject({ kind: "unauthenticated" });
  });
});
