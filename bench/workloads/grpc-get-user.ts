/**
 * GetUser unary over gRPC/h2c with h2load (16 connections × 16 streams by
 * default) — the project against the seed-style grpc-js server and the raw ceiling.
 */
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { GetUserResponseSchema } from "../../gen/user/user_pb.js";
import { expectOk, GrpcH2Client } from "../lib/grpc-h2-client.js";
import { grpcHeaders, runH2load, writeGrpcBody } from "../lib/h2load-runner.js";
import type { Metrics, RunContext, Target, Workload } from "../lib/types.js";
import { getUserRequestBytes } from "../lib/user-messages.js";

const PATH = "/user.UserService/GetUser";

/** One GetUser call with our own client; returns the reply's size so h2load's byte count can reveal gRPC errors. */
export async function probeGetUser(target: Target, body: Uint8Array): Promise<number> {
  const client = new GrpcH2Client(target.baseUrl);
  try {
    const result = expectOk(PATH, await client.call(PATH, [body], { headers: { authorization: `Bearer ${target.token}` }, timeoutMs: 10_000 }));
    const message = result.messages[0];
    if (!message) throw new Error(`${target.name}: GetUser returned no message`);
    const reply = fromBinary(GetUserResponseSchema, message);
    if (!reply.found || reply.user?.username !== target.expectedUsername) {
      throw new Error(`${target.name}: GetUser(${target.getUserId}) returned ${reply.user?.username ?? "nothing"}, expected ${target.expectedUsername}`);
    }
    return message.length + 5;
  } finally {
    await client.close();
  }
}

export const grpcGetUser: Workload = {
  id: "grpc-get-user",
  title: "GetUser unary over gRPC (h2load)",
  status: "ready",
  description: "h2load -c16 -m16 POSTs a framed GetUserRequest with a bearer token; median req/s over alternating rounds.",
  targets: ["project", "grpc-js", "raw-http2"],
  primary: { key: "rps", label: "req/s", digits: 0, higherIsBetter: true },
  columns: [
    { key: "rps", label: "req/s", digits: 0 },
    { key: "p50Ms", label: "p50 ms", digits: 2 },
    { key: "p99Ms", label: "p99 ms", digits: 2 },
    { key: "meanMs", label: "mean ms", digits: 2 },
    { key: "failed", label: "failed", digits: 0 },
  ],
  goals: [
    { subject: "project", against: "grpc-js", min: 1.2 },
    { subject: "project", against: "raw-http2", min: 0.6 },
  ],
  async prepare(ctx: RunContext, target: Target) {
    await target.freshToken();
    const request = getUserRequestBytes(target.getUserId);
    const replyBytes = await probeGetUser(target, request);
    const bodyFile = join(ctx.workDir, `get-user-${target.name}.bin`);
    await writeGrpcBody(bodyFile, request);
    let runNo = 0;
    return async (seconds: number): Promise<Metrics> => {
      const m = await runH2load({
        url: target.baseUrl + PATH,
        bodyFile,
        headers: grpcHeaders(target.token),
        connections: ctx.config.h2Connections,
        streams: ctx.config.h2Streams,
        durationSec: seconds,
        logFile: join(ctx.workDir, `h2load-${target.name}-${runNo++}.log`),
        prefix: ctx.pinning.loadPrefix,
      });
      // h2load counts a gRPC error (HTTP 200 + grpc-status ≠ 0) as success; a short data count gives it away.
      const okShare = m.requests > 0 ? m.dataBytes / (m.requests * replyBytes) : 0;
      await probeGetUser(target, request);
      return { ...m, okShare };
    };
  },
  check(m: Metrics) {
    const problems: string[] = [];
    if (!(m.rps! > 0) || !Number.isFinite(m.rps)) problems.push(`req/s is ${m.rps}`);
    if (m.failed! > 0) problems.push(`${m.failed} failed requests`);
    if (m.non2xx! > 0) problems.push(`${m.non2xx} non-2xx responses`);
    if (m.okShare !== undefined && m.okShare < 0.99) problems.push(`only ${(m.okShare * 100).toFixed(1)}% of replies carried a message (gRPC errors?)`);
    return problems;
  },
};
