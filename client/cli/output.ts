import { toJson } from "@bufbuild/protobuf";
import { ChatMessageSchema, MessageType, UserSchema, UserStatus, type ChatMessage, type User } from "../../gen/user/user_pb.js";

/** A user as one line of canonical proto JSON (int64 as strings, enum names), what `-o json` prints. */
export function userJson(user: User): string {
  return JSON.stringify(toJson(UserSchema, user));
}

export function chatJson(message: ChatMessage): string {
  return JSON.stringify(toJson(ChatMessageSchema, message));
}

/** "active" for USER_STATUS_ACTIVE, for tables and flags. */
export function statusWord(status: UserStatus): string {
  return (UserStatus[status] ?? String(status)).toLowerCase();
}

/** Parses a status flag: active, inactive, suspended, deleted (or the full enum name). */
export function parseStatus(value: string): UserStatus | undefined {
  const key = value.trim().toUpperCase().replace(/^USER_STATUS_/, "");
  const status = UserStatus[key as keyof typeof UserStatus];
  return typeof status === "number" && status !== UserStatus.UNSPECIFIED ? status : undefined;
}

function isoTime(ms: bigint): string {
  return ms === 0n ? "" : new Date(Number(ms)).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Left-aligned columns separated by two spaces, with a header row; cells never contain newlines. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = (s: string) => s.replace(/[\r\n\t]+/g, " ");
  const all = [header, ...rows].map((r) => r.map(clean));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n");
}

export const userTableHeader = ["ID", "USERNAME", "EMAIL", "FULL NAME", "STATUS", "ROLES", "CREATED"] as const;

export function userRow(user: User): string[] {
  return [user.id.toString(), user.username, user.email, user.fullName, statusWord(user.status), user.roles.join(","), isoTime(user.createdAt)];
}

/** One chat message for a terminal: "[time] #id sender → recipient: text". */
export function chatLine(message: ChatMessage): string {
  const time = message.timestamp === 0n ? "" : new Date(Number(message.timestamp)).toISOString().slice(11, 19);
  const to = message.toUserId === 0n ? "everyone" : `user ${message.toUserId}`;
  const kind = message.type === MessageType.TEXT || message.type === MessageType.UNSPECIFIED ? "" : ` (${(MessageType[message.type] ?? "").toLowerCase()})`;
  return `[${time}] #${message.id} ${message.fromUsername || `user ${message.fromUserId}`} → ${to}${kind}: ${message.content}`;
}
