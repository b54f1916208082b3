import { createSecretKey, generateKeyPairSync } from "node:crypto";
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { DomainError } from "../domain/errors.js";
import { createTokenService, type TokenServiceOptions } from "./token-service.js";

const SECRET = "0123456789abcdef0123456789abcdef-test-secret";
const T0 = Date.UTC(2030, 0, 1);

function service(overrides: Partial<TokenServiceOptions> = {}, now = { t: T0 }) {
  return createTokenService({
    secret: SECRET,
    issuer: "test-issuer",
    audience: "test-audience",
    ttlSeconds: 3600,
    clock: { now: () => now.t },
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error("expected the token to be refused");
}

const subject = { userId: 42, username: "alice", roles: ["user"] };

/** A token with the right claims, signed by whatever key and algorithm a test chooses. */
function forged(claims: Record<string, unknown> = {}) {
  const nowSeconds = Math.floor(T0 / 1000);
  return new SignJWT({ roles: ["admin"], name: "alice", ...claims })
    .setSubject("42")
    .setIssuer("test-issuer")
    .setAudience("test-audience")
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + 600);
}

describe("token service", () => {
  it("issues an HS256 JWT with sub, iss, aud, exp and roles, and verifies it back", async () => {
    const tokens = service();
    const issued = await tokens.issue(subject);
    expect(issued.expiresAt).toBe(T0 + 3600 * 1000);
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: "HS256", typ: "JWT" });
    const payload = decodeJwt(issued.token);
    expect(payload).toMatchObject({ sub: "42", iss: "test-issuer", aud: "test-audience", exp: T0 / 1000 + 3600, roles: ["user"] });
    expect(await tokens.verify(issued.token)).toEqual({ userId: 42, username: "alice", roles: ["user"], expiresAt: T0 + 3600 * 1000 });
  });

  it("uses JWT_TTL_SECONDS as the lifetime", async () => {
    const issued = await service({ ttlSeconds: 120 }).issue(subject);
    expect(decodeJwt(issued.token).exp).toBe(T0 / 1000 + 120);
  });

  it("refuses an unsigned token (alg: none)", async () => {
    const unsigned = new UnsecuredJWT({ roles: ["admin"] })
      .setSubject("42")
      .setIssuer("test-issuer")
      .setAudience("test-audience")
      .setExpirationTime(Math.floor(T0 / 1000) + 600)
      .encode();
    const error = await rejection(service().verify(unsigned));
    expect([error.kind, error.message]).toEqual(["unauthenticated", "invalid token"]);
  });

  it("refuses a token signed with another key", async () => {
    const other = await forged().setProtectedHeader({ alg: "HS256" }).sign(createSecretKey(Buffer.from("another-secret-that-is-long-enough-000")));
    expect((await rejection(service().verify(other))).message).toBe("invalid token");
  });

  it("refuses another HMAC algorithm even with the right key (the algorithm is pinned)", async () => {
    const hs512 = await forged().setProtectedHeader({ alg: "HS512" }).sign(createSecretKey(Buffer.from(SECRET)));
    expect((await rejection(service().verify(hs512))).message).toBe("invalid token");
  });

  it("refuses an RS256 token", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rs = await forged().setProtectedHeader({ alg: "RS256" }).sign(privateKey);
    expect((await rejection(service().verify(rs))).message).toBe("invalid token");
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const { token } = await service().issue(subject);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const tampered = Buffer.from(JSON.stringify({ ...claims, roles: ["admin"], sub: "1" })).toString("base64url");
    expect((await rejection(service().verify(`${header}.${tampered}.${signature}`))).message).toBe("invalid token");
  });

  it("refuses a token for another audience or from another issuer", async () => {
    const wrongAud = await service({ audience: "someone-else" }).issue(subject);
    const wrongIss = await service({ issuer: "someone-else" }).issue(subject);
    expect((await rejection(service().verify(wrongAud.token))).message).toBe("invalid token");
    expect((await rejection(service().verify(wrongIss.token))).message).toBe("invalid token");
  });

  it("refuses tokens without exp, sub, iss or aud", async () => {
    const key = createSecretKey(Buffer.from(SECRET));
    const nowSeconds = Math.floor(T0 / 1000);
    const base = { roles: ["user"], name: "alice" };
    const noExp = await new SignJWT(base).setProtectedHeader({ alg: "HS256" }).setSubject("42").setIssuer("test-issuer").setAudience("test-audience").sign(key);
    const noSub = await new SignJWT(base).setProtectedHeader({ alg: "HS256" }).setIssuer("test-issuer").setAudience("test-audience").setExpirationTime(nowSeconds + 60).sign(key);
    const noIss = await new SignJWT(base).setProtectedHeader({ alg: "HS256" }).setSubject("42").setAudience("test-audience").setExpirationTime(nowSeconds + 60).sign(key);
    const noAud = await new SignJWT(base).setProtectedHeader({ alg: "HS256" }).setSubject("42").setIssuer("test-issuer").setExpirationTime(nowSeconds + 60).sign(key);
    for (const token of [noExp, noSub, noIss, noAud]) {
      expect((await rejection(service().verify(token))).kind).toBe("unauthenticated");
    }
  });

  it("refuses a correctly signed token whose subject or roles are malformed", async () => {
    const key = createSecretKey(Buffer.from(SECRET));
    const badSub = await forged().setSubject("not-a-number").setProtectedHeader({ alg: "HS256" }).sign(key);
    const badRoles = await forged({ roles: "admin" }).setProtectedHeader({ alg: "HS256" }).sign(key);
    expect((await rejection(service().verify(badSub))).message).toBe("invalid token");
    expect((await rejection(service().verify(badRoles))).message).toBe("invalid token");
  });

  it("refuses garbage", async () => {
    for (const garbage of ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x".repeat(5000)]) {
      expect((await rejection(service().verify(garbage))).kind).toBe("unauthenticated");
    }
  });

  it("accepts a token a few seconds past exp (clock tolerance), then refuses it as expired, also from the cache", async () => {
    const now = { t: T0 };
    const tokens = service({ ttlSeconds: 60, clockToleranceSeconds: 5 }, now);
    const { token } = await tokens.issue(subject);
    await tokens.verify(token); // now cached
    now.t = T0 + 63_000;
    expect((await tokens.verify(token)).userId).toBe(42);
    now.t = T0 + 66_000;
    const error = await rejection(tokens.verify(token));
    expect([error.kind, error.message]).toEqual(["unauthenticated", "token expired"]);
    // A second service with an empty cache agrees.
    const fresh = service({ ttlSeconds: 60, clockToleranceSeconds: 5 }, now);
    expect((await rejection(fresh.verify(token))).message).toBe("token expired");
  });

  it("refuses a secret shorter than 32 bytes", () => {
    expect(() => service({ secret: "too-short" })).toThrow(/at least 32 bytes/);
  });

  it("without a secret makes a random one per process, says so once, and its tokens do not verify elsewhere", async () => {
    let warnings = 0;
    const a = service({ secret: undefined, onGeneratedSecret: () => warnings++ });
    const b = service({ secret: undefined, onGeneratedSecret: () => warnings++ });
    expect(warnings).toBe(2);
    const { token } = await a.issue(subject);
    expect((await a.verify(token)).userId).toBe(42);
    expect((await rejection(b.verify(token))).message).toBe("invalid token");
    expect((await rejection(service().verify(token))).message).toBe("invalid token");
  });
});
