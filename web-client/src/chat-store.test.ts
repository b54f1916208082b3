import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChatMessageSchema, type ChatMessage } from "../../gen/user/user_pb.js";
import { ChatStore, conversationOf, dmKey, dmPeer, ROOM } from "./chat-store.js";

const ME = 1n;
const msg = (id: number, from: bigint, to = 0n): ChatMessage =>
  create(ChatMessageSchema, { id: BigInt(id), fromUserId: from, toUserId: to, content: `m${id}`, fromUsername: `u${from}` });

describe("conversationOf", () => {
  it("puts broadcasts in the room and direct messages under the other party, whichever way they go", () => {
    expect(conversationOf(msg(1, 2n), ME)).toBe(ROOM);
    expect(conversationOf(msg(2, 2n, ME), ME)).toBe("dm:2");
    expect(conversationOf(msg(3, ME, 7n), ME)).toBe("dm:7");
    expect(dmPeer(dmKey(42n))).toBe(42n);
    expect(dmPeer(ROOM)).toBeUndefined();
  });
});

describe("ChatStore", () => {
  it("ignores keep-alives and messages it has already seen, and keeps id order when they arrive out of order", () => {
    const store = new ChatStore(ME);
    expect(store.add(msg(0, 0n))).toBe(false);
    expect(store.add(msg(5, ME))).toBe(true);
    expect(store.add(msg(3, 2n))).toBe(true);
    expect(store.add(msg(5, ME))).toBe(false);
    expect(store.add(msg(4, 3n))).toBe(true);
    expect(store.messages(ROOM).map((m) => m.id)).toEqual([3n, 4n, 5n]);
    expect(store.has(4n)).toBe(true);
    expect(store.has(0n)).toBe(false);
  });

  it("counts unread messages from others after the read mark, per conversation, and stores the marks", () => {
    const saved: Record<string, string>[] = [];
    const store = new ChatStore(ME, {}, (marks) => saved.push(marks));
    store.add(msg(1, 2n));
    store.add(msg(2, ME));
    store.add(msg(3, 2n, ME));
    store.add(msg(4, 2n, ME));
    store.add(msg(5, ME, 2n));
    expect(store.unread(ROOM)).toBe(1);
    expect(store.unread(dmKey(2n))).toBe(2);
    expect(store.markRead(dmKey(2n))).toBe(true);
    expect(store.markRead(dmKey(2n))).toBe(false);
    expect(store.unread(dmKey(2n))).toBe(0);
    expect(saved).toEqual([{ "dm:2": "5" }]);
    store.add(msg(6, 2n, ME));
    expect(store.unread(dmKey(2n))).toBe(1);
  });

  it("restores read marks, skipping malformed ones", () => {
    const store = new ChatStore(ME, { room: "2", "dm:2": "x", "bogus": "9" });
    store.add(msg(1, 2n));
    store.add(msg(2, 3n));
    store.add(msg(3, 3n));
    expect(store.unread(ROOM)).toBe(1);
  });

  it("lists the room first, then direct conversations with the newest activity first", () => {
    const store = new ChatStore(ME);
    store.add(msg(1, 2n, ME));
    store.add(msg(2, ME, 3n));
    store.add(msg(3, 4n));
    store.open(dmKey(9n));
    expect(store.conversations().map((c) => c.key)).toEqual([ROOM, "dm:3", "dm:2", "dm:9"]);
    expect(store.conversations().map((c) => c.unread)).toEqual([1, 0, 1, 0]);
  });
});
