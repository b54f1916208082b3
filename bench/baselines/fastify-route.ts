/**
 * Baseline for the Connect JSON path: a plain Fastify JSON route for
 * POST /user.UserService/GetUser with the same in-memory lookup and a bearer
 * JWT check per call, answering in Connect's JSON shape.
 */
import Fastify from "fastify";
import { bearerToken, createVerifier } from "../lib/jwt-keys.js";
import { seedUsers, type SeedUser } from "../lib/seed-data.js";
import { announceReady, exitOnSignal, readBaselineEnv } from "./baseline-env.js";

interface StoredUser extends SeedUser {
  id: number;
  createdAt: number;
  updatedAt: number;
}

const env = readBaselineEnv("fastify-route-baseline");
const verify = createVerifier(env.jwtSecret);

const users = new Map<number, StoredUser>();
const now = Date.now();
for (const u of seedUsers(env.users)) users.set(u.index, { ...u, id: u.index, createdAt: now, updatedAt: now });

/** Connect JSON (proto3 JSON mapping): camelCase names, int64 as strings, enums by name. */
function toConnectJson(u: StoredUser): Record<string, unknown> {
  return {
    id: String(u.id),
    username: u.username,
    email: u.email,
    fullName: u.fullName,
    avatarUrl: u.avatarUrl,
    createdAt: String(u.createdAt),
    updatedAt: String(u.updatedAt),
    status: "USER_STATUS_ACTIVE",
    roles: u.roles,
    metadata: u.metadata,
  };
}

const app = Fastify({ logger: false });

app.addHook("onRequest", async (request, reply) => {
  const token = bearerToken(request.headers.authorization);
  try {
    if (!token) throw new Error("missing bearer token");
    verify(token);
  } catch {
    return reply.code(401).send({ code: "unauthenticated", message: "Missing or invalid bearer token" });
  }
});

app.post<{ Body: { userId?: string | number } }>("/user.UserService/GetUser", async (request, reply) => {
  const id = Number(request.body?.userId ?? 0);
  if (!id) return reply.code(400).send({ code: "invalid_argument", message: "userId is required" });
  const user = users.get(id);
  return user ? { user: toConnectJson(user), found: true } : {};
});

const address = await app.listen({ port: env.port, host: env.host });
exitOnSignal(() => app.close());
announceReady("fastify-route-baseline", Number(new URL(address).port), `users=${users.size}`);
