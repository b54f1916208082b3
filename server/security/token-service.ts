import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { LRUCache } from "lru-cache";
import { unauthenticated } from "../domain/errors.js";
import type { Clock } from "../domain/types.js";

/** What a verified token says about its bearer; the user row still decides what they may do. */
export interface TokenClaims {
  userId: number;
  username: string;
  roles: string[];
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

export interface IssuedToken {
  token: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

export interface TokenService {
  issue(subject: { userId: number; username: string; roles: readonly string[] }): Promise<IssuedToken>;
  /** Verifies signature, algorithm, issuer, audience and expiry; throws UNAUTHENTICATED otherwise. */
  verify(token: string): Promise<TokenClaims>;
}

export interface TokenServiceOptions {
  /** At least 32 bytes; undefined makes a random one for this process. */
  secret: string | undefined;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  clock: Clock;
  /** Allowed clock skew between issuer and verifier. */
  clockToleranceSeconds?: number;
  /** Verified tokens remembered, so a repeat check costs a map lookup instead of an HMAC. */
  cacheSize?: number;
  /** Called once when the secret is generated, so the operator learns that tokens die with the process. */
  onGeneratedSecret?: () => void;
}

const ALGORITHM = "HS256";

/** Signs and verifies HS256 JWTs with jose, with the key imported once and verified tokens cached. */
export function createTokenService(options: TokenServiceOptions): TokenService {
  let key: KeyObject;
  if (options.secret === undefined) {
    key = createSecretKey(randomBytes(48));
    options.onGeneratedSecret?.();
  } else {
    if (Buffer.byteLength(options.secret) < 32) throw new Error("JWT secret must be at least 32 bytes");
    key = createSecretKey(Buffer.from(options.secret, "utf8"));
  }
  const tolerance = options.clockToleranceSeconds ?? 5;
  const cache = new LRUCache<string, TokenClaims>({ max: options.cacheSize ?? 10_000 });

  return {
    async issue(subject) {
      const nowSeconds = Math.floor(options.clock.now() / 1000);
      const exp = nowSeconds + options.ttlSeconds;
      const token = await new SignJWT({ roles: [...subject.roles], name: subject.username })
        .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
        .setSubject(String(subject.userId))
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(nowSeconds)
        .setExpirationTime(exp)
        .setJti(randomBytes(12).toString("base64url"))
        .sign(key);
      return { token, expiresAt: exp * 1000 };
    },

    async verify(token) {
      const now = options.clock.now();
      const cached = cache.get(token);
      if (cached !== undefined) {
        // A cache hit still honours expiry: the entry is only as good as the token.
        if (cached.expiresAt + tolerance * 1000 > now) return cached;
        cache.delete(token);
        throw unauthenticated("token expired");
      }
      let payload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ["exp", "sub", "iss", "aud"],
          clockTolerance: tolerance,
          currentDate: new Date(now),
        }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw unauthenticated("token expired");
        throw unauthenticated("invalid token");
      }
      const userId = Number(payload.sub);
      const roles = payload["roles"];
      const name = payload["name"];
      if (!Number.isSafeInteger(userId) || userId <= 0 || !Array.isArray(roles) || !roles.every((r) => typeof r === "string")) {
        throw unauthenticated("invalid token");
      }
      const claims: TokenClaims = {
        userId,
        username: typeof name === "string" ? name : "",
        roles: roles as string[],
        expiresAt: (payload.exp as number) * 1000,
      };
      const ttl = claims.expiresAt - now;
      if (ttl > 0) cache.set(token, claims, { ttl });
      return claims;
    },
  };
}
