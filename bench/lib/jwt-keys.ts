/**
 * Per-run HS256 secrets and tokens, so no secret is ever hard-coded and
 * every target verifies with a KeyObject built once (as the seed's auth does).
 */
import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";

/** A fresh random secret for one bench run. */
export function randomSecret(): string {
  return randomBytes(48).toString("base64url");
}

/** Claims the seed's AuthMiddleware reads (userId, roles). */
export interface BenchClaims {
  userId: number;
  username: string;
  roles: string[];
}

/** Signs an HS256 token the baselines accept. */
export function signToken(secret: string, claims: BenchClaims, ttlSeconds = 3600): string {
  return jwt.sign(claims, createSecretKey(Buffer.from(secret, "utf8")), {
    algorithm: "HS256",
    expiresIn: ttlSeconds,
    subject: String(claims.userId),
  });
}

/** Returns a verifier holding one KeyObject; it throws on a bad or expired token. */
export function createVerifier(secret: string): (token: string) => BenchClaims {
  const key: KeyObject = createSecretKey(Buffer.from(secret, "utf8"));
  return (token) => jwt.verify(token, key, { algorithms: ["HS256"] }) as unknown as BenchClaims;
}

/** Extracts the token from an "authorization: Bearer …" value, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !value.startsWith("Bearer ")) return undefined;
  return value.slice(7);
}
