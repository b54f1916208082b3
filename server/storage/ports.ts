import type { ChatMessage, ChatMessageKind, User, UserStatus } from "../domain/types.js";
import type { UserQuery } from "../domain/user-rules.js";

/** A user row with its password hash, which only security code reads. */
export interface StoredUser extends User {
  passwordHash: string;
}

/** Everything needed to insert a user; the store assigns the id. */
export interface NewUserRow {
  username: string;
  email: string;
  passwordHash: string;
  fullName: string;
  avatarUrl: string;
  status: UserStatus;
  roles: string[];
  metadata: Record<string, string>;
  createdAt: number;
}

/** The columns an update may set; undefined leaves a column unchanged. */
export interface UserPatch {
  username?: string | undefined;
  email?: string | undefined;
  fullName?: string | undefined;
  avatarUrl?: string | undefined;
  status?: UserStatus | undefined;
  roles?: string[] | undefined;
  metadata?: Record<string, string> | undefined;
  passwordHash?: string | undefined;
  updatedAt: number;
}

/**
 * Persistence of users. Uniqueness of username and email (case-insensitive)
 * is enforced by the engine: create and update throw the domain's
 * ALREADY_EXISTS error on a clash, so concurrent sign-ups cannot both win.
 */
export interface UserStore {
  create(row: NewUserRow): Promise<StoredUser>;
  getById(id: number): Promise<StoredUser | undefined>;
  /** Finds a user by username or email, case-insensitively. */
  findByLogin(usernameOrEmail: string): Promise<StoredUser | undefined>;
  update(id: number, patch: UserPatch): Promise<StoredUser | undefined>;
  /** Removes the row; false when there was none. */
  remove(id: number): Promise<boolean>;
  /** Streams one page of users as the engine reads them; stops reading when the signal aborts. */
  list(query: UserQuery, signal?: AbortSignal): AsyncIterable<StoredUser>;
  count(): Promise<number>;
}

/** A chat message before storage gives it an id. */
export interface NewChatMessage {
  fromUserId: number;
  toUserId: number;
  content: string;
  kind: ChatMessageKind;
  createdAt: number;
}

/**
 * The chat history: the single source of truth for order and delivery.
 * Ids increase in commit order, so "everything after id N" never skips a message.
 */
export interface ChatStore {
  append(message: NewChatMessage): Promise<ChatMessage>;
  /** All messages with id > afterId, ascending, at most limit. */
  after(afterId: number, limit: number): Promise<ChatMessage[]>;
  /** Messages visible to a user with id > afterId, ascending, at most limit. */
  visibleAfter(userId: number, afterId: number, limit: number): Promise<ChatMessage[]>;
  /** The most recent messages visible to a user, ascending, at most limit. */
  recentVisible(userId: number, limit: number): Promise<ChatMessage[]>;
  /** The highest id stored, 0 when empty. */
  latestId(): Promise<number>;
}

/** One storage engine: users, chat, and its own lifecycle. */
export interface Storage {
  readonly engine: "sqlite" | "postgres";
  readonly users: UserStore;
  readonly chat: ChatStore;
  /** Resolves when the engine answers a trivial query; used by readiness and health. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
