import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import type { ChatMessage } from "../../gen/user/user_pb.js";
import { clientsFor, loginToken } from "../../test/support/clients.js";
import { freePort } from "../../test/support/free-port.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "../../test/support/test-server.js";
import { startChatFeed, type ChatFeed, type FeedStatus } from "./chat-feed.js";

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A feed over connect-node against a real server, recording everything it reports. */
function recordingFeed(url: () => string, token: string, options: { idleTimeoutMs?: number } = {}) {
  const received: ChatMessage[] = [];
  const statuses: FeedStatus[] = [];
  const sinceIds: bigint[] = [];
  const fatal: unknown[] = [];
  const feed: ChatFeed = startChatFeed({
    subscribe(sinceId, signal) {
      sinceIds.push(sinceId);
      return clientsFor("connect", url(), { token }).users.subscribeChat({ sinceId, historyLimit: 50 }, { signal });
    },
    probe: (signal) => clientsFor("connect", url(), { token }).auth.whoAmI({}, { signal }),
    onMessage: (m) => received.push(m),
    onStatus: (s) => statuses.push(s),
    isFatal: (e) => e instanceof ConnectError && e.code === Code.Unauthenticated,
    onFatal: (e) => fatal.push(e),
    delayMs: () => 50,
    ...options,
  });
  return { feed, received, statuses, sinceIds, fatal };
}

describe("startChatFeed against a real server", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("delivers history then live messages, survives a restart and resumes after the last id without loss or repeats", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "chat-feed-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = { PORT: String(await freePort()), JWT_SECRET: randomBytes(32).toString("hex"), SHUTDOWN_TIMEOUT_MS: "100" };
    let server: TestServer = await startTestServer({ env, dataDir });
    cleanups.push(() => server.close());
    const token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
    const say = (content: string) => clientsFor("connect", server.url, { token }).users.sendChatMessage({ content });

    await say("from history");
    const { feed, received, statuses, sinceIds } = recordingFeed(() => server.url, token);
    cleanups.push(() => feed.stop());
    await until("connected", () => statuses.some((s) => s.state === "connected"));
    await say("live one");
    await until("two messages", () => received.length === 2);

    await server.close();
    await until("reconnecting", () => statuses.at(-1)?.state === "reconnecting");
    server = await startTestServer({ env, dataDir });
    await say("after restart one");
    await say("after restart two");
    await until("four messages", () => received.length === 4);
    await until("connected again", () => statuses.at(-1)?.state === "connected");

    expect(received.map((m) => m.content)).toEqual(["from history", "live one", "after restart one", "after restart two"]);
    expect(received.map((m) => m.id)).toEqual([1n, 2n, 3n, 4n]);
    expect(sinceIds[0]).toBe(0n);
    expect(sinceIds.slice(1).length).toBeGreaterThan(0);
    expect(sinceIds.slice(1).every((id) => id === 2n)).toBe(true);
    expect(feed.lastId()).toBe(4n);
    expect(statuses[0]).toEqual({ state: "connecting", attempt: 0 });
    const states = statuses.map((s) => s.state);
    expect(states.indexOf("reconnecting")).toBeGreaterThan(states.indexOf("connected"));
    expect(states.lastIndexOf("connected")).toBeGreaterThan(states.indexOf("reconnecting"));
  });

  it("treats a stream without messages or keep-alives as dead and reopens it after the last id", async () => {
    const server = await startTestServer({ env: { CHAT_KEEPALIVE_MS: "600000" } });
    cleanups.push(() => server.close());
    const token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
    await clientsFor("connect", server.url, { token }).users.sendChatMessage({ content: "only one" });
    const { feed, received, statuses, sinceIds } = recordingFeed(() => server.url, token, { idleTimeoutMs: 200 });
    cleanups.push(() => feed.stop());
    await until("three subscriptions", () => sinceIds.length >= 3);
    feed.stop();
    await until("stopped", () => statuses.at(-1)?.state === "stopped");

    expect(received.map((m) => m.content)).toEqual(["only one"]);
    expect(sinceIds.slice(1).every((id) => id === 1n)).toBe(true);
    const stale = statuses.find((s) => s.state === "reconnecting" && s.error !== undefined);
    expect(String(stale?.error)).toContain("no message or keep-alive for too long");
  });

  it("stops for good on UNAUTHENTICATED instead of retrying", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const { received, statuses, sinceIds, fatal } = recordingFeed(() => server.url, "not-a-token");
    await until("fatal", () => fatal.length === 1);
    await until("stopped", () => statuses.at(-1)?.state === "stopped");
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(fatal[0]).toBeInstanceOf(ConnectError);
    expect((fatal[0] as ConnectError).code).toBe(Code.Unauthenticated);
    expect(sinceIds).toEqual([0n]);
    expect(received).toEqual([]);
    expect(statuses.map((s) => s.state)).toEqual(["connecting", "stopped"]);
  });
});
