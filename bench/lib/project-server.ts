/**
 * Starts the project's own server (server/main.ts by default) as a pinned
 * child on a database seeded with the shared users, and logs in as admin for a token.
 */
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connectUnary } from "./connect-json-client.js";
import { freePort } from "./free-port.js";
import { randomSecret } from "./jwt-keys.js";
import { seedProjectDatabase } from "./project-seed.js";
import { probeUserIndex, seedUser } from "./seed-data.js";
import { spawnServer, type SpawnedProcess } from "./spawn-process.js";
import type { RunContext, Target } from "./types.js";

const ADMIN_USERNAME = "admin";
const TOKEN_REUSE_MS = 20 * 60_000;

/** Everything one project-server run needs: where it listens, its data, and the per-run secrets. */
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
  const command = ctx.config.projectCommand.join(" ");
  if (command === "node --import tsx server/main.ts" && !existsSync(join(process.cwd(), "server/main.ts"))) return "server/main.ts does not exist yet";
  if (command.startsWith("node ") && command.endsWith(" dist/server/main.js") && !existsSync(join(process.cwd(), "dist/server/main.js"))) {
    return "dist/server/main.js is not built (npm run build)";
  }
  return undefined;
}

/**
 * The environment the project server gets. Names follow the brief; adjust
 * here if the server reads different ones (e.g. a rate-limit switch).
 */
function projectEnv(launch: ProjectLaunch, extra: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  // The seed goes into SQLite in DATA_DIR, so a DATABASE_URL (or a shared Redis) from the caller's shell must not redirect the server.
  delete inherited.DATABASE_URL;
  delete inherited.REDIS_URL;
  return {
    ...inherited,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(launch.port),
    DATA_DIR: launch.dataDir,
    JWT_SECRET: launch.jwtSecret,
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

/** Logs in over Connect JSON, retrying briefly while the server finishes booting. */
async function login(baseUrl: string, username: string, password: string): Promise<string> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const reply = await connectUnary<LoginReply>(baseUrl, "user.AuthService/Login", { username, password });
      if (!reply.accessToken) throw new Error("Login reply has no accessToken");
      return reply.accessToken;
    } catch (err) {
      lastError = err;
      await sleep(250);
    }
  }
  throw new Error(`project Login as ${username} failed: ${(lastError as Error).message}`);
}

/** Seeds DATA_DIR directly, starts the server once with the run's bcrypt settings, and returns the project target. */
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

  const started = performance.now();
  const ids = await seedProjectDatabase({
    dataDir: launch.dataDir,
    users: ctx.config.users,
    seedPassword: launch.seedPassword,
    adminPassword: launch.adminPassword,
    bcryptCost: ctx.config.bcryptCost,
  });
  ctx.log(`project: seeded ${ctx.config.users} users into SQLite in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const getUserId = ids.get(wanted);
  if (getUserId === undefined) throw new Error(`project: seeding did not report an id for ${wanted}`);

  const proc = await spawnProject(ctx, launch, "measured", {
    BCRYPT_COST: String(ctx.config.bcryptCost),
    // One hashing thread per core of the machine, as the default picks on an unpinned server (pinned, it would see one core).
    BCRYPT_THREADS: String(ctx.cores),
  });
  // Cached per user, and renewed well inside the server's default one-hour token lifetime, since a full run on a busy machine can last that long.
  const userTokens = new Map<number, { token: Promise<string>; at: number }>();
  const target: Target = {
    name: "project",
    baseUrl,
    token: await login(baseUrl, ADMIN_USERNAME, launch.adminPassword).catch(async (err: Error) => {
      await proc.stop();
      throw new Error(`${err.message}\n--- server output ---\n${proc.tail()}`);
    }),
    freshToken: async () => (target.token = await login(baseUrl, ADMIN_USERNAME, launch.adminPassword)),
    tokenFor(index: number) {
      const cached = userTokens.get(index);
      if (cached && Date.now() - cached.at < TOKEN_REUSE_MS) return cached.token;
      const token = login(baseUrl, seedUser(index).username, launch.seedPassword);
      token.catch(() => userTokens.delete(index));
      userTokens.set(index, { token, at: Date.now() });
      return token;
    },
    getUserId,
    expectedUsername: wanted,
    pid: proc.pid,
    stop: proc.stop,
  };
  return target;
}
