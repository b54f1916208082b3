/**
 * BatchCreateUsers of 1,000 users over gRPC: bcrypt-bound, so users/s is set
 * against the single-thread bcryptjs rate measured in the same round — the
 * project hashes in a pool of one thread per core and should beat one thread
 * by nearly the core count; the grpc-js baseline hashes on its event loop.
 */
import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { BatchCreateUsersResponseSchema } from "../../gen/user/user_pb.js";
import { oneThreadBcryptRate } from "../lib/bcrypt-rate.js";
import { withAllCores } from "../lib/cpu-pinning.js";
import { expectOk, GrpcH2Client } from "../lib/grpc-h2-client.js";
import type { SeedUser } from "../lib/seed-data.js";
import type { Metrics, RunContext, Target, Workload } from "../lib/types.js";
import { createUserRequestBytes } from "../lib/user-messages.js";

const PATH = "/user.UserService/BatchCreateUsers";

/** Fresh users nobody has created yet (usernames ≤ 32 chars, allowed by both targets). */
function freshUsers(tag: string, count: number): SeedUser[] {
  return Array.from({ length: count }, (_, i) => {
    const username = `b${tag}_${i}`;
    return {
      index: i,
      username,
      email: `${username}@example.com`,
      fullName: `Batch User ${i}`,
      avatarUrl: "",
      roles: ["user"],
      metadata: { source: "bench-batch" },
    };
  });
}

/** Streams the users in one call and returns the reply time; throws unless every user was created. */
async function batchCreate(target: Target, users: SeedUser[]): Promise<number> {
  const client = new GrpcH2Client(target.baseUrl);
  try {
    const password = randomBytes(9).toString("base64url");
    const bodies = users.map((u) => createUserRequestBytes(u, password));
    const started = performance.now();
    const result = expectOk(PATH, await client.call(PATH, bodies, { headers: { authorization: `Bearer ${target.token}` }, timeoutMs: 900_000 }));
    const ms = performance.now() - started;
    const reply = fromBinary(BatchCreateUsersResponseSchema, result.messages[0] ?? new Uint8Array());
    if (reply.successCount !== users.length || reply.errorCount !== 0 || reply.users.length !== users.length) {
      throw new Error(`${target.name}: BatchCreateUsers created ${reply.successCount}/${users.length}, errors ${reply.errorCount}: ${reply.errors[0] ?? ""}`);
    }
    if (reply.users[users.length - 1]?.username !== users[users.length - 1]!.username) {
      throw new Error(`${target.name}: BatchCreateUsers replied with users in another order or other names`);
    }
    return ms;
  } finally {
    await client.close();
  }
}

export const batchCreate1000: Workload = {
  id: "batch-create-1000",
  title: "BatchCreateUsers of 1,000 users (bcrypt-bound)",
  status: "ready",
  description:
    "One BatchCreateUsers call streams 1,000 fresh CreateUserRequests at the run's bcrypt cost; users/s = 1,000 ÷ reply time. " +
    "Beside it, a child process on the server core hashes passwords in one thread (bcryptjs) for the same-round reference rate. " +
    "The server may use every core during this workload. One round: it is minutes of hashing.",
  targets: ["project", "grpc-js"],
  primary: { key: "usersPerSec", label: "users/s", digits: 1, higherIsBetter: true },
  columns: [
    { key: "usersPerSec", label: "users/s", digits: 1 },
    { key: "oneThreadHashesPerSec", label: "1-thread hashes/s", digits: 1 },
    { key: "vsOneThread", label: "× 1 thread", digits: 2 },
    { key: "cores", label: "cores", digits: 0 },
    { key: "replyMs", label: "reply ms", digits: 0 },
    { key: "users", label: "users", digits: 0 },
  ],
  goals: [],
  metricGoals: [{ target: "project", key: "vsOneThread", label: "users/s ÷ 1-thread bcryptjs hashes/s", min: 1.7, isRatio: true }],
  rounds: 1,
  warmup: false,
  async prepare(ctx: RunContext, target: Target) {
    await target.freshToken();
    const runTag = randomBytes(3).toString("hex");
    let runNo = 0;
    // The probe, and the JIT warm-up of the hashing code.
    await batchCreate(target, freshUsers(`${runTag}p`, 4));
    return async (): Promise<Metrics> => {
      const count = ctx.config.batchUsers;
      const users = freshUsers(`${runTag}r${runNo++}`, count);
      const reference = await oneThreadBcryptRate(ctx);
      const replyMs = await withAllCores(ctx.pinning, ctx.cores, target.pid, () => batchCreate(target, users));
      const usersPerSec = count / (replyMs / 1000);
      return {
        usersPerSec,
        replyMs,
        oneThreadHashesPerSec: reference.hashesPerSec,
        vsOneThread: usersPerSec / reference.hashesPerSec,
        cores: ctx.cores,
        users: count,
        bcryptCost: ctx.config.bcryptCost,
      };
    };
  },
  check(m: Metrics) {
    const problems: string[] = [];
    if (!(m.usersPerSec! > 0) || !Number.isFinite(m.usersPerSec)) problems.push(`users/s is ${m.usersPerSec}`);
    if (!(m.oneThreadHashesPerSec! > 0)) problems.push(`1-thread reference is ${m.oneThreadHashesPerSec} hashes/s`);
    return problems;
  },
};
