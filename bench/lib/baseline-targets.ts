/**
 * Starts the three baselines as pinned child processes and describes them as
 * targets, each holding the same seeded users and accepting a per-run JWT.
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { READY_LINE } from "../baselines/baseline-env.js";
import { signToken } from "./jwt-keys.js";
import { probeUserIndex, seedUser } from "./seed-data.js";
import { spawnServer } from "./spawn-process.js";
import type { RunContext, Target, TargetName } from "./types.js";

const baselineFiles: Record<Exclude<TargetName, "project">, string> = {
  "grpc-js": "../baselines/grpc-js-server.ts",
  "raw-http2": "../baselines/raw-http2-server.ts",
  "fastify-route": "../baselines/fastify-route.ts",
};

export type BaselineName = keyof typeof baselineFiles;
export const BASELINES = Object.keys(baselineFiles) as BaselineName[];

/** Secrets shared by all baselines in one run. */
export interface BaselineSecrets {
  jwtSecret: string;
  seedPassword: string;
}

/** Spawns one baseline with `node --import tsx` and waits for its READY line. */
export async function startBaseline(ctx: RunContext, name: BaselineName, secrets: BaselineSecrets): Promise<Target> {
  const file = fileURLToPath(new URL(baselineFiles[name], import.meta.url));
  const proc = await spawnServer({
    name,
    command: [...ctx.pinning.serverPrefix, process.execPath, ...ctx.config.baselineNodeFlags, "--import", "tsx", file],
    env: {
      ...process.env,
      NODE_ENV: "production",
      PORT: "0",
      HOST: "127.0.0.1",
      BENCH_USERS: String(ctx.config.users),
      JWT_SECRET: secrets.jwtSecret,
      BENCH_SEED_PASSWORD: secrets.seedPassword,
      BCRYPT_COST: String(ctx.config.bcryptCost),
    },
    readyLine: READY_LINE,
    timeoutMs: 60_000,
    logFile: join(ctx.workDir, `${name}.log`),
  });
  const mint = () => signToken(secrets.jwtSecret, { userId: 1, username: "admin", roles: ["admin", "user"] });
  const index = probeUserIndex(ctx.config.users);
  const target: Target = {
    name,
    baseUrl: `http://127.0.0.1:${proc.port}`,
    token: mint(),
    freshToken: async () => (target.token = mint()),
    // The baselines number users from 1 in seed order, the admin having no row.
    tokenFor: async (i: number) => signToken(secrets.jwtSecret, { userId: i, username: seedUser(i).username, roles: seedUser(i).roles }),
    getUserId: BigInt(index),
    expectedUsername: seedUser(index).username,
    pid: proc.pid,
    stop: proc.stop,
  };
  return target;
}
