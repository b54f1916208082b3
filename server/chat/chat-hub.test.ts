import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock, type Principal } from "../domain/types.js";
import type { ChatStore, Storage } from "../storage/ports.js";
import { openSqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { createInProcessBus, type ChatBus } from "./chat-bus.js";
import { createChatHub, type ChatHub } from "./chat-hub.js";

let storage: Storage;
let reads: number;
let hub: ChatHub;
let remoteSignal: (latestId?: number) => void;
let alice: Principal;

/** A bus whose publishes go nowhere, so the test plays the other instances. */
function silentBus(): ChatBus {
  return {
    async publish() {},
    subscribe(onSignal) {
      remoteSignal = onSignal;
      return () => {};
    },
    healthy: () => true,
    async close() {},
  };
}

/** The store with its history reads counted, the cost the hub must not repeat. */
function counted(chat: ChatStore): ChatStore {
  return {
    ...chat,
    after(afterId, limit) {
      reads++;
      return chat.after(afterId, limit);
    },
  };
}

async function start(bus: ChatBus): Promise<void> {
  hub = createChatHub({ chat: counted(storage.chat), users: storage.users, bus, clock: systemClock, queueLimit: 100, pollIntervalMs: 60_000 });
  await hub.start();
}

beforeEach(async () => {
  storage = await openSqliteStorage({ file: ":memory:" });
  const row = await storage.users.create({
    username: "alice", email: "alice@example.com", passwordHash: "x", fullName: "", avatarUrl: "",
    status: "active", roles: ["user"], metadata: {}, createdAt: Date.now(),
  });
  alice = { userId: row.id, username: "alice", roles: ["user"], isAdmin: false };
  reads = 0;
});
afterEach(async () => {
  await hub.close();
  await storage.close();
});

/** Lets the hub's pump finish its reads. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("chat hub reads", () => {
  it("reads the history once per own send although the bus echoes it back", async () => {
    await start(createInProcessBus());
    const controller = new AbortController();
    const stream = hub.subscribe(alice, { from: { kind: "live" }, signal: controller.signal });
    const first = stream.next();
    await settle();
    await hub.send(alice, { claimedFromUserId: 0, toUserId: 0, content: "one", kind: "text" });
    await hub.send(alice, { claimedFromUserId: 0, toUserId: 0, content: "two", kind: "text" });
    expect((await first).value?.content).toBe("one");
    expect((await stream.next()).value?.content).toBe("two");
    await settle();
    expect(reads).toBe(2);
    controller.abort();
  });

  it("reads for a remote id beyond its cursor, not for one it already has", async () => {
    await start(silentBus());
    const controller = new AbortController();
    const stream = hub.subscribe(alice, { from: { kind: "live" }, signal: controller.signal });
    const first = stream.next();
    await settle();
    // Another instance stored this one: only the signal tells this hub.
    const remote = await storage.chat.append({ fromUserId: alice.userId, toUserId: 0, content: "remote", kind: "text", createdAt: Date.now() });
    remoteSignal(remote.id);
    expect((await first).value?.id).toBe(remote.id);
    await settle();
    expect(reads).toBe(1);
    remoteSignal(remote.id);
    remoteSignal(remote.id - 1);
    await settle();
    expect(reads).toBe(1);
    controller.abort();
  });

  it("reads on a signal without an id (a reconnect or the poll), even when it believes it is current", async () => {
    await start(silentBus());
    const controller = new AbortController();
    const stream = hub.subscribe(alice, { from: { kind: "live" }, signal: controller.signal });
    const first = stream.next();
    await settle();
    // A publish lost while the broker was away: no signal at all for this one.
    const missed = await storage.chat.append({ fromUserId: alice.userId, toUserId: 0, content: "missed", kind: "text", createdAt: Date.now() });
    await settle();
    expect(reads).toBe(0);
    await hub.catchUp();
    expect((await first).value?.id).toBe(missed.id);
    expect(reads).toBe(1);
    remoteSignal();
    await settle();
    expect(reads).toBe(2);
    controller.abort();
  });
});
