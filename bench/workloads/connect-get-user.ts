/**
 * GetUser as Connect JSON over HTTP/1.1 with wrk — the project's Connect path
 * (with auth) against a plain Fastify JSON route doing the same work.
 */
import { join } from "node:path";
import { connectUnary } from "../lib/connect-json-client.js";
import type { Metrics, RunContext, Target, Workload } from "../lib/types.js";
import { runWrk } from "../lib/wrk-runner.js";

const PROCEDURE = "user.UserService/GetUser";

interface GetUserJson {
  user?: { username?: string };
  found?: boolean;
}

async function probe(target: Target, body: { userId: string }): Promise<void> {
  const reply = await connectUnary<GetUserJson>(target.baseUrl, PROCEDURE, body, target.token);
  if (!reply.found || reply.user?.username !== target.expectedUsername) {
    throw new Error(`${target.name}: Connect GetUser returned ${JSON.stringify(reply).slice(0, 200)}, expected ${target.expectedUsername}`);
  }
}

export const connectGetUser: Workload = {
  id: "connect-get-user",
  title: "GetUser as Connect JSON over HTTP/1.1 (wrk)",
  status: "ready",
  description: "wrk -t1 -c64 POSTs {\"userId\":…} with connect-protocol-version: 1 and a bearer token; median req/s over alternating rounds.",
  targets: ["project", "fastify-route"],
  primary: { key: "rps", label: "req/s", digits: 0, higherIsBetter: true },
  columns: [
    { key: "rps", label: "req/s", digits: 0 },
    { key: "p50Ms", label: "p50 ms", digits: 2 },
    { key: "p99Ms", label: "p99 ms", digits: 2 },
    { key: "meanMs", label: "mean ms", digits: 2 },
    { key: "non2xx", label: "non-2xx", digits: 0 },
  ],
  goals: [{ subject: "project", against: "fastify-route", min: 0.7 }],
  async prepare(ctx: RunContext, target: Target) {
    await target.freshToken();
    const body = { userId: String(target.getUserId) };
    await probe(target, body);
    let runNo = 0;
    return async (seconds: number): Promise<Metrics> => {
      const m = await runWrk({
        url: `${target.baseUrl}/${PROCEDURE}`,
        body: JSON.stringify(body),
        headers: {
          "Content-Type": "application/json",
          "Connect-Protocol-Version": "1",
          Authorization: `Bearer ${target.token}`,
        },
        connections: ctx.config.wrkConnections,
        durationSec: seconds,
        scriptFile: join(ctx.workDir, `wrk-${target.name}-${runNo++}.lua`),
        prefix: ctx.pinning.loadPrefix,
      });
      await probe(target, body);
      return m;
    };
  },
  check(m: Metrics) {
    const problems: string[] = [];
    if (!(m.rps! > 0) || !Number.isFinite(m.rps)) problems.push(`req/s is ${m.rps}`);
    if (m.failed! > 0) problems.push(`${m.failed} socket errors`);
    if (m.non2xx! > 0) problems.push(`${m.non2xx} non-2xx responses`);
    return problems;
  },
};
