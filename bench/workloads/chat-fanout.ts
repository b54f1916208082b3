/**
 * Chat fan-out: 1,000 live subscribers (as 50 users, 100 streams per h2c
 * connection), broadcasts sent one after another, and the time from each
 * send to each subscriber's receipt — every (message, subscriber) pair is a sample.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { openAudience } from "../lib/chat-audience.js";
import { chatDriver } from "../lib/chat-driver.js";
import { median, percentile } from "../lib/stats.js";
import type { Metrics, RunContext, Target, Workload } from "../lib/types.js";

/** How long one broadcast may take to reach everyone before its stragglers count as missing. */
const DELIVERY_TIMEOUT_MS = 10_000;

export const chatFanout: Workload = {
  id: "chat-fanout-1000",
  title: "Chat fan-out to 1,000 subscribers",
  status: "ready",
  description:
    "1,000 subscriber streams over 10 h2c connections (project: SubscribeChat as 50 users; grpc-js: idle UserChat sessions), " +
    "20 broadcasts sent one at a time (project: SendChatMessage; grpc-js: a UserChat write), latency = receipt − send, client clock.",
  targets: ["project", "grpc-js"],
  primary: { key: "p99Ms", label: "p99 ms", digits: 2, higherIsBetter: false },
  columns: [
    { key: "p50Ms", label: "p50 ms", digits: 2 },
    { key: "p99Ms", label: "p99 ms", digits: 2 },
    { key: "maxMs", label: "max ms", digits: 2 },
    { key: "allReachedMs", label: "to all ms", digits: 2 },
    { key: "subscribers", label: "subscribers", digits: 0 },
    { key: "missing", label: "missing", digits: 0 },
  ],
  goals: [],
  metricGoals: [{ target: "project", key: "p99Ms", label: "delivery p99 ms", max: 50 }],
  async prepare(ctx: RunContext, target: Target) {
    const subscribers = ctx.config.fanoutSubscribers;
    const users = Math.min(ctx.config.fanoutUsers, ctx.config.users);
    // The probe: logs the users in and checks that the target takes a broadcast.
    await (await chatDriver(target, users)).close();
    let runNo = 0;
    return async (): Promise<Metrics> => {
      const driver = await chatDriver(target, users);
      const tag = `${randomBytes(4).toString("hex")}-${runNo++}`;
      const messages = ctx.config.fanoutMessages;
      const sentAt = new Float64Array(messages);
      const received = new Uint32Array(messages);
      const latencies: number[] = [];
      const prefix = `fanout ${tag} `;
      const allReached: number[] = [];
      let readyMs = Number.NaN;
      try {
        const audience = await openAudience({
          baseUrl: target.baseUrl,
          driver,
          count: subscribers,
          perConnection: ctx.config.streamsPerConnection,
          tag,
          onContent(_i, content, at) {
            if (!content.startsWith(prefix)) return;
            const seq = Number(content.slice(prefix.length));
            if (!(seq >= 0 && seq < messages)) return;
            received[seq]!++;
            latencies.push(at - sentAt[seq]!);
          },
        });
        readyMs = audience.readyMs;
        try {
          for (let seq = 0; seq < messages; seq++) {
            sentAt[seq] = performance.now();
            await driver.send(`${prefix}${seq}`);
            const deadline = sentAt[seq]! + DELIVERY_TIMEOUT_MS;
            while (received[seq]! < subscribers && performance.now() < deadline && audience.fleet.ended === 0) await sleep(1);
            if (received[seq] === subscribers) allReached.push(performance.now() - sentAt[seq]!);
            if (audience.fleet.ended > 0) throw new Error(`${audience.fleet.ended} subscribers dropped mid-run; first: ${audience.fleet.firstFailure}`);
          }
        } finally {
          audience.close();
        }
      } finally {
        await driver.close();
      }
      const sorted = Float64Array.from(latencies).sort();
      return {
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
        // Polled every millisecond, so this is the send-to-last-receipt time within about 1 ms.
        allReachedMs: median(allReached),
        subscribers,
        messages,
        deliveries: latencies.length,
        missing: subscribers * messages - latencies.length,
        readyMs,
      };
    };
  },
  check(m: Metrics) {
    const problems: string[] = [];
    if (!(m.deliveries! > 0)) problems.push("no broadcast was delivered");
    if (m.missing! > 0) problems.push(`${m.missing} deliveries missing after ${DELIVERY_TIMEOUT_MS} ms`);
    if (!Number.isFinite(m.p99Ms) || m.p99Ms! <= 0) problems.push(`p99 is ${m.p99Ms}`);
    return problems;
  },
};
