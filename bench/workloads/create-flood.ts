/**
 * GetUser latency at a fixed rate, first on an idle server and then while
 * several CreateUser loops keep bcrypt busy: a server that hashes on its event
 * loop stalls every other call, one that hashes in a pool should barely notice.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { withAllCores } from "../lib/cpu-pinning.js";
import { GrpcH2Client } from "../lib/grpc-h2-client.js";
import { grpcHeaders, runH2load, writeGrpcBody, type H2loadMetrics } from "../lib/h2load-runner.js";
import type { Metrics, RunContext, Target, Workload } from "../lib/types.js";
import { createUserRequestBytes, getUserRequestBytes } from "../lib/user-messages.js";
import { probeGetUser } from "./grpc-get-user.js";

const CREATE = "/user.UserService/CreateUser";
const GET = "/user.UserService/GetUser";
/** GetUser connections; the fixed rate is split between them. */
const GET_CONNECTIONS = 2;
/** Lets the hashing pool fill up before GetUser latency is sampled. */
const RAMP_MS = 500;

interface FloodResult {
  created: number;
  failed: number;
  firstError: string | undefined;
  ms: number;
}

/** Starts `loops` back-to-back CreateUser callers on one connection; stop() ends them after their calls in flight. */
function startCreateFlood(target: Target, loops: number, tag: string): { stop(): Promise<FloodResult> } {
  const client = new GrpcH2Client(target.baseUrl);
  const password = randomBytes(9).toString("base64url");
  const result: FloodResult = { created: 0, failed: 0, firstError: undefined, ms: 0 };
  const started = performance.now();
  let stopping = false;
  let n = 0;
  const loop = async () => {
    while (!stopping) {
      const username = `f${tag}_${n++}`;
      const body = createUserRequestBytes(
        { index: n, username, email: `${username}@example.com`, fullName: "Flood User", avatarUrl: "", roles: ["user"], metadata: {} },
        password,
      );
      try {
        const reply = await client.call(CREATE, [body], { headers: { authorization: `Bearer ${target.token}` }, timeoutMs: 120_000 });
        if (reply.status === 0) result.created++;
        else {
          result.failed++;
          result.firstError ??= `grpc-status ${reply.status} ${reply.statusMessage}`;
        }
      } catch (err) {
        result.failed++;
        result.firstError ??= (err as Error).message;
      }
    }
  };
  const running = Array.from({ length: loops }, loop);
  return {
    async stop() {
      stopping = true;
      await Promise.all(running);
      result.ms = performance.now() - started;
      await client.close();
      return result;
    },
  };
}

export const createFlood: Workload = {
  id: "get-user-p99-under-create-flood",
  title: "GetUser latency during a CreateUser flood",
  status: "ready",
  description:
    "h2load sends GetUser at a fixed rate (2 connections, --rps) for the round's duration on the idle server, then again while " +
    "6 concurrent CreateUser loops (bcrypt at the run's cost) run; the server may use every core. p99 flood ÷ p99 idle shows " +
    "whether hashing blocks other calls.",
  targets: ["project", "grpc-js"],
  primary: { key: "floodP99Ms", label: "flood p99 ms", digits: 2, higherIsBetter: false },
  columns: [
    { key: "idleP50Ms", label: "idle p50 ms", digits: 2 },
    { key: "idleP99Ms", label: "idle p99 ms", digits: 2 },
    { key: "floodP50Ms", label: "flood p50 ms", digits: 2 },
    { key: "floodP99Ms", label: "flood p99 ms", digits: 2 },
    { key: "p99FloodOverIdle", label: "p99 flood÷idle", digits: 2 },
    { key: "createsPerSec", label: "creates/s", digits: 1 },
    { key: "getRps", label: "GetUser/s", digits: 0 },
  ],
  goals: [],
  metricGoals: [{ target: "project", key: "p99FloodOverIdle", label: "GetUser p99 flood ÷ idle", max: 2, isRatio: true }],
  async prepare(ctx: RunContext, target: Target) {
    await target.freshToken();
    const request = getUserRequestBytes(target.getUserId);
    const replyBytes = await probeGetUser(target, request);
    const bodyFile = join(ctx.workDir, `flood-get-user-${target.name}.bin`);
    await writeGrpcBody(bodyFile, request);
    const runTag = randomBytes(3).toString("hex");
    let runNo = 0;
    const getUsers = (seconds: number, label: string): Promise<H2loadMetrics> =>
      runH2load({
        url: target.baseUrl + GET,
        bodyFile,
        headers: grpcHeaders(target.token),
        connections: GET_CONNECTIONS,
        // Room for a few calls in flight per connection, so a stalled reply does not also stop the clock of the next one.
        streams: 8,
        rpsPerConnection: Math.max(1, Math.round(ctx.config.floodGetUserRps / GET_CONNECTIONS)),
        durationSec: seconds,
        logFile: join(ctx.workDir, `h2load-flood-${target.name}-${runNo}-${label}.log`),
        prefix: ctx.pinning.loadPrefix,
      });
    return (seconds: number) =>
      withAllCores(ctx.pinning, ctx.cores, target.pid, async (): Promise<Metrics> => {
        const idle = await getUsers(seconds, "idle");
        const flood = startCreateFlood(target, ctx.config.floodLoops, `${runTag}r${runNo++}`);
        let busy: H2loadMetrics | undefined;
        let failure: unknown;
        try {
          await sleep(RAMP_MS);
          busy = await getUsers(seconds, "flood");
        } catch (err) {
          failure = err;
        }
        const floodResult = await flood.stop();
        if (busy === undefined) throw failure;
        await probeGetUser(target, request);
        if (floodResult.created === 0) throw new Error(`the flood created no users: ${floodResult.firstError ?? "no call finished"}`);
        const okShare = (m: H2loadMetrics) => (m.requests > 0 ? m.dataBytes / (m.requests * replyBytes) : 0);
        return {
          idleP50Ms: idle.p50Ms,
          idleP99Ms: idle.p99Ms,
          floodP50Ms: busy.p50Ms,
          floodP99Ms: busy.p99Ms,
          p99FloodOverIdle: busy.p99Ms / idle.p99Ms,
          createsPerSec: floodResult.created / (floodResult.ms / 1000),
          createFailed: floodResult.failed,
          getRps: busy.rps,
          idleGetRps: idle.rps,
          getFailed: idle.failed + busy.failed + idle.non2xx + busy.non2xx,
          okShare: Math.min(okShare(idle), okShare(busy)),
        };
      });
  },
  check(m: Metrics) {
    const problems: string[] = [];
    if (!Number.isFinite(m.floodP99Ms) || !Number.isFinite(m.idleP99Ms)) problems.push(`p99 idle ${m.idleP99Ms} / flood ${m.floodP99Ms}`);
    if (!(m.createsPerSec! > 0)) problems.push("the flood created no users");
    if (m.createFailed! > 0) problems.push(`${m.createFailed} CreateUser calls failed`);
    if (m.getFailed! > 0) problems.push(`${m.getFailed} GetUser calls failed`);
    if (m.okShare !== undefined && m.okShare < 0.99) problems.push(`only ${(m.okShare * 100).toFixed(1)}% of GetUser replies carried a message`);
    return problems;
  },
};
