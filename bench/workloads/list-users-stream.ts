/**
 * ListUsers server streaming over gRPC: every seeded user, page by page (the
 * contract caps a page at 1,000), measuring messages/s and time to first message.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { UserSchema } from "../../gen/user/user_pb.js";
import { expectOk, GrpcH2Client } from "../lib/grpc-h2-client.js";
import { median } from "../lib/stats.js";
import type { Metrics, RunContext, Target, Workload } from "../lib/types.js";
import { listUsersRequestBytes } from "../lib/user-messages.js";

const PATH = "/user.UserService/ListUsers";

interface PassResult {
  messages: number;
  ms: number;
  firstMessageMs: number;
}

/** Streams pages 1, 2, … until a short page; messages are counted, not decoded, to keep the client cheap. */
async function streamAll(client: GrpcH2Client, target: Target, pageSize: number): Promise<PassResult> {
  const started = performance.now();
  let messages = 0;
  let firstMessageMs = Number.NaN;
  for (let page = 1; ; page++) {
    const result = expectOk(PATH, await client.call(PATH, [listUsersRequestBytes(page, pageSize)], {
      headers: { authorization: `Bearer ${target.token}` },
      onMessage: () => {},
      timeoutMs: 120_000,
    }));
    if (page === 1) firstMessageMs = (result.firstMessageAt ?? Number.NaN) - result.startedAt;
    messages += result.count;
    if (result.count < pageSize) break;
  }
  return { messages, ms: performance.now() - started, firstMessageMs };
}

export const listUsersStream: Workload = {
  id: "list-users-stream",
  title: "ListUsers streaming all users over gRPC",
  status: "ready",
  description: "One h2c connection streams every page (page_size 1000, sort by id) back to back; messages/s over the whole listing, time to first message of page 1.",
  targets: ["project", "grpc-js"],
  primary: { key: "msgsPerSec", label: "msgs/s", digits: 0, higherIsBetter: true },
  columns: [
    { key: "msgsPerSec", label: "msgs/s", digits: 0 },
    { key: "ttfmMs", label: "first msg ms", digits: 2 },
    { key: "passMs", label: "all users ms", digits: 1 },
    { key: "messages", label: "users", digits: 0 },
  ],
  goals: [{ subject: "project", against: "grpc-js", min: 1.0 }],
  async prepare(ctx: RunContext, target: Target) {
    await target.freshToken();
    const client = new GrpcH2Client(target.baseUrl);
    const first = expectOk(PATH, await client.call(PATH, [listUsersRequestBytes(1, 3)], {
      headers: { authorization: `Bearer ${target.token}` },
      timeoutMs: 10_000,
    }));
    const sample = first.messages[0];
    if (!sample || !fromBinary(UserSchema, sample).username) throw new Error(`${target.name}: ListUsers returned no decodable user`);
    await client.close();
    return async (seconds: number): Promise<Metrics> => {
      const conn = new GrpcH2Client(target.baseUrl);
      const passes: PassResult[] = [];
      const until = performance.now() + seconds * 1000;
      try {
        do passes.push(await streamAll(conn, target, ctx.config.listPageSize));
        while (performance.now() < until);
      } finally {
        await conn.close();
      }
      const listed = passes[0]?.messages ?? 0;
      if (listed < ctx.config.users) throw new Error(`${target.name}: ListUsers streamed ${listed} users, expected at least ${ctx.config.users}`);
      const messages = passes.reduce((n, p) => n + p.messages, 0);
      const ms = passes.reduce((n, p) => n + p.ms, 0);
      return {
        msgsPerSec: messages / (ms / 1000),
        ttfmMs: median(passes.map((p) => p.firstMessageMs)),
        passMs: median(passes.map((p) => p.ms)),
        messages: listed,
        passes: passes.length,
      };
    };
  },
  check(m: Metrics) {
    const problems: string[] = [];
    if (!(m.msgsPerSec! > 0) || !Number.isFinite(m.msgsPerSec)) problems.push(`msgs/s is ${m.msgsPerSec}`);
    if (!(m.messages! > 0)) problems.push("no users streamed");
    return problems;
  },
};
