/** A user's lifecycle state, independent of any wire format. */
export type UserStatus = "active" | "inactive" | "suspended" | "deleted";

/** A user as the domain sees it; the password hash never leaves storage and security code. */
export interface User {
  id: number;
  username: string;
  email: string;
  fullName: string;
  avatarUrl: string;
  /** Milliseconds since the Unix epoch. */
  createdAt: number;
  /** Milliseconds since the Unix epoch. */
  updatedAt: number;
  status: UserStatus;
  roles: string[];
  metadata: Record<string, string>;
}

/** The authenticated caller of an RPC, derived from a verified token and the current user row. */
export interface Principal {
  userId: number;
  username: string;
  roles: readonly string[];
  isAdmin: boolean;
}

/** The kind of a chat message, mirroring the seed's MessageType. */
export type ChatMessageKind = "unspecified" | "text" | "image" | "file" | "system";

/** A stored chat message; ids give the one global order of the chat history. */
export interface ChatMessage {
  id: number;
  fromUserId: number;
  fromUsername: string;
  /** 0 means everyone. */
  toUserId: number;
  content: string;
  kind: ChatMessageKind;
  /** Milliseconds since the Unix epoch. */
  createdAt: number;
}

/** The role that may do everything. */
export const ADMIN_ROLE = "admin";
/** The role every user has. */
export const USER_ROLE = "user";

/** A source of the current time, replaceable in tests. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
