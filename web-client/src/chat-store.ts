import type { ChatMessage } from "../../gen/user/user_pb.js";

/** "room" for messages to everyone, "dm:<other user id>" for a direct conversation. */
export type ConversationKey = "room" | `dm:${string}`;

export const ROOM: ConversationKey = "room";

export function dmKey(otherUserId: bigint): ConversationKey {
  return `dm:${otherUserId}`;
}

/** The other party of a direct conversation key, or undefined for the room. */
export function dmPeer(key: ConversationKey): bigint | undefined {
  return key === ROOM ? undefined : BigInt(key.slice(3));
}

/** Which conversation a message belongs to, seen from user `me`. */
export function conversationOf(message: ChatMessage, me: bigint): ConversationKey {
  if (message.toUserId === 0n) return ROOM;
  return dmKey(message.fromUserId === me ? message.toUserId : message.fromUserId);
}

export interface ConversationSummary {
  key: ConversationKey;
  unread: number;
  /** Id of the newest message, 0n when empty. */
  lastId: bigint;
}

/**
 * The messages this page has seen, deduplicated by id and kept in id order
 * per conversation, with read marks so unread counts survive a reload.
 */
export class ChatStore {
  private readonly byId = new Map<bigint, ChatMessage>();
  private readonly lists = new Map<ConversationKey, ChatMessage[]>([[ROOM, []]]);
  private readonly lastRead: Map<ConversationKey, bigint>;

  constructor(
    readonly me: bigint,
    lastRead: Record<string, string> = {},
    private readonly onReadChange: (marks: Record<string, string>) => void = () => {},
  ) {
    this.lastRead = new Map(
      Object.entries(lastRead)
        .filter(([key, id]) => (key === ROOM || /^dm:\d+$/.test(key)) && /^\d+$/.test(id))
        .map(([key, id]) => [key as ConversationKey, BigInt(id)]),
    );
  }

  /** Adds a message; false when it is a keep-alive or was already seen. */
  add(message: ChatMessage): boolean {
    if (message.id === 0n || this.byId.has(message.id)) return false;
    this.byId.set(message.id, message);
    const list = this.open(conversationOf(message, this.me));
    let at = list.length;
    while (at > 0 && (list[at - 1]?.id ?? 0n) > message.id) at--;
    list.splice(at, 0, message);
    return true;
  }

  has(id: bigint): boolean {
    return this.byId.has(id);
  }

  /** Makes sure a conversation exists, e.g. a direct conversation the user just started. */
  open(key: ConversationKey): ChatMessage[] {
    let list = this.lists.get(key);
    if (list === undefined) {
      list = [];
      this.lists.set(key, list);
    }
    return list;
  }

  messages(key: ConversationKey): readonly ChatMessage[] {
    return this.lists.get(key) ?? [];
  }

  /** Messages from others after the read mark. */
  unread(key: ConversationKey): number {
    const mark = this.lastRead.get(key) ?? 0n;
    let count = 0;
    const list = this.lists.get(key) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const m = list[i];
      if (m === undefined || m.id <= mark) break;
      if (m.fromUserId !== this.me) count++;
    }
    return count;
  }

  /** Marks everything in the conversation as read; true when the mark moved. */
  markRead(key: ConversationKey): boolean {
    const list = this.lists.get(key) ?? [];
    const newest = list[list.length - 1]?.id ?? 0n;
    if (newest <= (this.lastRead.get(key) ?? 0n)) return false;
    this.lastRead.set(key, newest);
    this.onReadChange(Object.fromEntries([...this.lastRead].map(([k, id]) => [k, id.toString()])));
    return true;
  }

  /** The room first, then direct conversations with the most recent activity first. */
  conversations(): ConversationSummary[] {
    const summaries = [...this.lists].map(([key, list]) => ({ key, unread: this.unread(key), lastId: list[list.length - 1]?.id ?? 0n }));
    return summaries.sort((a, b) => {
      if (a.key === ROOM) return -1;
      if (b.key === ROOM) return 1;
      return a.lastId === b.lastId ? a.key.localeCompare(b.key) : a.lastId > b.lastId ? -1 : 1;
    });
  }
}
