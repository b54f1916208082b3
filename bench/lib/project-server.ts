/**
 * Starts the project's own server (server/main.ts by default) as a pinned
 * child, seeds it with the shared users, and logs in as admin for a token.
 */
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { BatchCreateUsersResponseSchema } from "../../gen/user/user_pb.js";
import { connectUnary } from "./connect-json-client.js";
import { freePort } from "./free-port.js";
import { expectOk, GrpcH2Client } from "./grpc-h2-client.js";
import { randomSecret } from "./jwt-keys.js";
import { probeUserIndex, seedUser, seedUsers } from "./seed-data.js";
import { spawnServer, type SpawnedProcess } from "./spawn-process.js";
import type { RunContext, Target } from "./types.js";
import { createUserRequestBytes } from "./user-messages.js";
import { setTimeout as sleep } from "node:timers/promises";

const ADMIN_USERNAME = "admin";

/** Everything one project-server run needs to start twice on the same data. */
interface ProjectLaunch {
  command: string[];
  port: number;
  dataDir: string;
  jwtSecret: string;
  adminPassword: string;
  seedPassword: string;
}

interface LoginReply {
  accessToken: string;
  expiresAt?: string;
}

/** Why the project server cannot be benchmarked now, or undefined if it can. */
export function projectUnavailableReason(ctx: RunContext): string | undefined {
  if (ctx.config.skipProject) return "skipped by --no-project / BENCH_SKIP_PROJECT=1";
  const usesDefault = ctx.config.projectCommand.join(" ") === "node --import tsx server/main.ts";
  if (usesDefault && !existsSync(join(process.cwd(), "server/main.ts"))) return "server/main.ts does not exist yet";
  return undefined;
}

/**
 * The environment the project server gets. Names follow the brief; adjust
 * here if the server reads different ones (e.g. a rate-limit switch).
 */
function projectEnv(launch: ProjectLaunch, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(launch.port),
    DATA_DIR: launch.dataDir,
    JWT_SECRET: launch.jwtSecret,
    ADMIN_USERNAME,
    ADMIN_PASSWORD: launch.adminPassword,
    SEED_DEMO_DATA: "false",
    // One principal makes every call, so the per-principal limiter would throttle the load generators.
    RATE_LIMIT_PER_MINUTE: "0",
    LOG_LEVEL: "warn",
    ...extra,
  };
}

async function spawnProject(ctx: RunContext, launch: ProjectLaunch, label: string, extra: Record<string, string>): Promise<SpawnedProcess> {
  const command = launch.command[0] === "node" ? [process.execPath, ...launch.command.slice(1)] : launch.command;
  return spawnServer({
    name: `project (${label})`,
    command: [...ctx.pinning.serverPrefix, ...command],
    env: projectEnv(launch, extra),
    tcpPort: launch.port,
    timeoutMs: 120_000,
    logFile: join(ctx.workDir, `project-${label}.log`),
  });
}

/** Logs in as admin over Connect JSON, retrying briefly while the server finishes booting. */
async function login(baseUrl: string, password: string): Promise<string> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const reply = await connectUnary<LoginReply>(baseUrl, "user.AuthService/Login", { username: ADMIN_USERNAME, password });
      if (!reply.accessToken) throw new Error("Login reply has no accessToken");
      return reply.accessToken;
    } catch (err) {
      lastError = err;
      await sleep(250);
    }
  }
  throw new Error(`project Login failed: ${(lastError as Error).message}`);
}

/**
 * LEAD: FINISH ME once the storage schema exists. Seeds the project server
 * with the shared users and returns username → id. For now it streams
 * BatchCreateUsers over gRPC (chunks of 1,000) to a server started with
 * BCRYPT_COST=4; a direct SQLite insert (same rows as seed-data.ts, one
 * precomputed hash) would be faster and would not depend on the RPC.
 */
export async function seedProjectServer(
  baseUrl: string,
  token: string,
  count: number,
  password: string,
  progress: (line: string) => void = () => {},
): Promise<Map<string, bigint>> {
  const ids = new Map<string, bigint>();
  const client = new GrpcH2Client(baseUrl);
  const all = [...seedUsers(count)];
  try {
    for (let at = 0; at < all.length; at += 1000) {
      const chunk = all.slice(at, at + 1000);
      const path = "/user.UserService/BatchCreateUsers";
      const result = expectOk(path, await client.call(path, chunk.map((u) => createUserRequestBytes(u, password)), {
        headers: { authorization: `Bearer ${token}` },
        timeoutMs: 180_000,
      }));
      const reply = fromBinary(BatchCreateUsersResponseSchema, result.messages[0] ?? new Uint8Array());
      if (reply.errorCount > 0) throw new Error(`BatchCreateUsers: ${reply.errorCount} errors, first: ${reply.errors[0] ?? "?"}`);
      for (const user of reply.users) ids.set(user.username, user.id);
      progress(`project: seeded ${Math.min(at + chunk.length, all.length)}/${all.length}`);
    }
  } finally {
    await client.close();
  }
  return ids;
}

/** Starts, seeds (on a BCRYPT_COST=4 instance), restarts with default settings, and returns the project target. */
export async function startProjectTarget(ctx: RunContext): Promise<Target> {
  const launch: ProjectLaunch = {
    command: ctx.config.projectCommand,
    port: await freePort(),
    dataDir: await mkdtemp(join(ctx.workDir, "project-data-")),
    jwtSecret: randomSecret(),
    adminPassword: randomBytes(18).toString("base64url"),
    seedPassword: randomBytes(12).toString("base64url"),
  };
  const baseUrl = `http://127.0.0.1:${launch.port}`;
  const wanted = seedUser(probeUserIndex(ctx.config.users)).username;

  ctx.log(`project: seeding ${ctx.config.users} users (BCRYPT_COST=4 instance)…`);
  const started = performance.now();
  const seeding = await spawnProject(ctx, launch, "seeding", { BCRYPT_COST: "4" });
  let ids: Map<string, bigint>;
  try {
    ids = await seedProjectServer(baseUrl, await login(baseUrl, launch.adminPassword), ctx.config.users, launch.seedPassword, ctx.log);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- server output ---\n${seeding.tail()}`);
  } finally {
    await seeding.stop();
  }
  ctx.log(`project: seeded in ${((performance.now() - started) / 1000).toFixed(1)} s; restarting for measurement`);

  const getUserId = ids.get(wanted);
  if (getUserId === undefined) throw new Error(`project: seeding did not report an id for ${wanted}`);
  const proc = await spawnProject(ctx, launch, "measured", {});
  const target: Target = {
    name: "project",
    baseUrl,
    token: await login(baseUrl, launch.adminPassword).catch(async (err: Error) => {
      await proc.stop();
      throw new Error(`${err.message}\n--- server output ---\n${proc.tail()}`);
    }),
    freshToken: async () => (target.token = await login(baseUrl, launch.adminPassword)),
    getUserId,
    expectedUsername: wanted,
    pid: proc.pid,
    stop: proc.stop,
  };
  return target;
}
