/**
 * Memory of idle chat streams: the server's resident set before and after
 * 10,000 subscribers (100 h2c connections × 100 streams) are open and proven
 * live, divided by the stream count — each stream's share of its connection included.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { openAudience } from "../lib/chat-audience.js";
import { chatDriver } from "../lib/chat-driver.js";
import { residentBytes } from "../lib/proc-memory.js";
import type { Metrics, RunContext, Target, Workload } from "../lib/types.js";

const MiB = 1024 * 1024;
/** Time for the server to finish the allocations of opening (and the sync broadcast) before RSS is read: 1 s for 10,000 streams. */
function settleMs(streams: number): number {
  return Math.min(1000, Math.max(200, streams / 10));
}

export const idleChatMemory: Workload = {
  id: "idle-chat-streams-memory",
  title: "Memory of 10,000 idle chat streams",
  status: "ready",
  description:
    "RSS (/proc/<pid>/status VmRSS) of the server before and after opening 10,000 subscribers (project: SubscribeChat; grpc-js: idle UserChat) " +
    "on 100 connections and getting one broadcast through to every one; (after − before) ÷ streams. Runs once per target: " +
    "a second run would find the heap the first one grew.",
  targets: ["project", "grpc-js"],
  primary: { key: "kibPerStream", label: "KiB/stream", digits: 1, higherIsBetter: false },
  columns: [
    { key: "kibPerStream", label: "KiB/stream", digits: 1 },
    { key: "rssBeforeMiB", label: "RSS before MiB", digits: 1 },
    { key: "rssAfterMiB", label: "RSS after MiB", digits: 1 },
    { key: "rssClosedMiB", label: "after close MiB", digits: 1 },
    { key: "streams", label: "streams", digits: 0 },
    { key: "readyMs", label: "open ms", digits: 0 },
  ],
  goals: [],
  rounds: 1,
  warmup: false,
  async prepare(ctx: RunContext, target: Target) {
    await residentBytes(target.pid);
    const users = Math.min(ctx.config.fanoutUsers, ctx.config.users);
    await (await chatDriver(target, users)).close();
    return async (): Promise<Metrics> => {
      const streams = ctx.config.idleStreams;
      const settle = settleMs(streams);
      const driver = await chatDriver(target, users);
      try {
        await sleep(settle);
        const before = await residentBytes(target.pid);
        const audience = await openAudience({
          baseUrl: target.baseUrl,
          driver,
          count: streams,
          perConnection: ctx.config.streamsPerConnection,
          tag: randomBytes(4).toString("hex"),
        });
        let after: number;
        try {
          await sleep(settle);
          if (audience.fleet.ended > 0) throw new Error(`${audience.fleet.ended} streams ended while idle; first: ${audience.fleet.firstFailure}`);
          after = await residentBytes(target.pid);
        } finally {
          audience.close();
        }
        await sleep(settle);
        const closed = await residentBytes(target.pid);
        return {
          kibPerStream: (after - before) / streams / 1024,
          rssBeforeMiB: before / MiB,
          rssAfterMiB: after / MiB,
          rssClosedMiB: closed / MiB,
          streams,
          readyMs: audience.readyMs,
        };
      } finally {
        await driver.close();
      }
    };
  },
  check(m: Metrics) {
    const problems: string[] = [];
    if (!(m.streams! > 0)) problems.push("no streams were opened");
    if (!Number.isFinite(m.kibPerStream)) problems.push(`KiB/stream is ${m.kibPerStream}`);
    // With a few hundred streams a garbage collection can outweigh them; with thousands a fall means the figure is noise.
    else if (m.kibPerStream! <= 0 && m.streams! >= 1000) problems.push(`RSS did not grow (${m.kibPerStream!.toFixed(2)} KiB/stream)`);
    if (!(m.rssAfterMiB! > 0)) problems.push(`RSS after is ${m.rssAfterMiB} MiB`);
    return problems;
  },
};
