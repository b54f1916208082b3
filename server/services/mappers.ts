import { create } from "@bufbuild/protobuf";
import {
  ChatMessageSchema,
  MessageType,
  UserSchema,
  UserStatus,
  type ChatMessage as ChatMessagePb,
  type User as UserPb,
} from "../../gen/user/user_pb.js";
import { invalidArgument } from "../domain/errors.js";
import type { ChatMessage, ChatMessageKind, User, UserStatus as DomainStatus } from "../domain/types.js";

/** The one place where proto and domain types meet. */

const statusToPb: Record<DomainStatus, UserStatus> = {
  active: UserStatus.ACTIVE,
  inactive: UserStatus.INACTIVE,
  suspended: UserStatus.SUSPENDED,
  deleted: UserStatus.DELETED,
};

/** Maps a wire status to the domain; UNSPECIFIED becomes undefined ("no filter" / "unchanged"). */
export function statusFromPb(status: UserStatus, field = "status"): DomainStatus | undefined {
  switch (status) {
    case UserStatus.UNSPECIFIED:
      return undefined;
    case UserStatus.ACTIVE:
      return "active";
    case UserStatus.INACTIVE:
      return "inactive";
    case UserStatus.SUSPENDED:
      return "suspended";
    case UserStatus.DELETED:
      return "deleted";
    default:
      throw invalidArgument([{ field, code: "INVALID_VALUE", message: `unknown status ${String(status)}` }]);
  }
}

const kindToPb: Record<ChatMessageKind, MessageType> = {
  unspecified: MessageType.UNSPECIFIED,
  text: MessageType.TEXT,
  image: MessageType.IMAGE,
  file: MessageType.FILE,
  system: MessageType.SYSTEM,
};

export function kindFromPb(type: MessageType): ChatMessageKind {
  switch (type) {
    case MessageType.UNSPECIFIED:
      return "unspecified";
    case MessageType.TEXT:
      return "text";
    case MessageType.IMAGE:
      return "image";
    case MessageType.FILE:
      return "file";
    case MessageType.SYSTEM:
      return "system";
    default:
      throw invalidArgument([{ field: "type", code: "INVALID_VALUE", message: `unknown message type ${String(type)}` }]);
  }
}

/** User field names a GetUser may select, by proto name and by JSON name. */
const userFields = {
  id: "id",
  username: "username",
  email: "email",
  full_name: "fullName",
  fullName: "fullName",
  avatar_url: "avatarUrl",
  avatarUrl: "avatarUrl",
  created_at: "createdAt",
  createdAt: "createdAt",
  updated_at: "updatedAt",
  updatedAt: "updatedAt",
  status: "status",
  roles: "roles",
  metadata: "metadata",
} as const;

type UserField = (typeof userFields)[keyof typeof userFields];

/** Validates a GetUser field mask; every unknown name is reported. */
export function parseFieldMask(fields: string[]): Set<UserField> | undefined {
  if (fields.length === 0) return undefined;
  const unknown = fields.filter((f) => !Object.hasOwn(userFields, f));
  if (unknown.length > 0) {
    throw invalidArgument(
      unknown.map((f) => ({ field: "fields", code: "UNKNOWN_FIELD", message: `unknown user field "${f.slice(0, 64)}"` })),
    );
  }
  return new Set(fields.map((f) => userFields[f as keyof typeof userFields]));
}

/** Builds the wire user, optionally restricted to a field mask. */
export function userToPb(user: User, mask?: Set<UserField>): UserPb {
  if (mask === undefined) {
    // Every field is set, so the message is written out directly: create() would
    // walk the schema to fill defaults, per row of a 10,000-row listing.
    return {
      $typeName: "user.User",
      id: BigInt(user.id),
      username: user.username,
      email: user.email,
      fullName: user.fullName,
      avatarUrl: user.avatarUrl,
      createdAt: BigInt(user.createdAt),
      updatedAt: BigInt(user.updatedAt),
      status: statusToPb[user.status],
      roles: user.roles,
      metadata: user.metadata,
    };
  }
  const has = (f: UserField) => mask.has(f);
  return create(UserSchema, {
    id: has("id") ? BigInt(user.id) : 0n,
    username: has("username") ? user.username : "",
    email: has("email") ? user.email : "",
    fullName: has("fullName") ? user.fullName : "",
    avatarUrl: has("avatarUrl") ? user.avatarUrl : "",
    createdAt: has("createdAt") ? BigInt(user.createdAt) : 0n,
    updatedAt: has("updatedAt") ? BigInt(user.updatedAt) : 0n,
    status: has("status") ? statusToPb[user.status] : UserStatus.UNSPECIFIED,
    roles: has("roles") ? user.roles : [],
    metadata: has("metadata") ? user.metadata : {},
  });
}

/**
 * Chat messages go to many subscribers at once: each stored message maps to
 * one frozen proto message, which transports may serialize once for all.
 */
const chatPbCache = new WeakMap<ChatMessage, ChatMessagePb>();

export function chatToPb(message: ChatMessage): ChatMessagePb {
  let pb = chatPbCache.get(message);
  if (pb === undefined) {
    pb = Object.freeze(
      create(ChatMessageSchema, {
        id: BigInt(message.id),
        fromUserId: BigInt(message.fromUserId),
        fromUsername: message.fromUsername,
        toUserId: BigInt(message.toUserId),
        content: message.content,
        timestamp: BigInt(message.createdAt),
        type: kindToPb[message.kind],
      }),
    );
    chatPbCache.set(message, pb);
  }
  return pb;
}

/** The keep-alive frame of SubscribeChat: id 0 and nothing else. */
export const chatKeepalive: ChatMessagePb = Object.freeze(create(ChatMessageSchema, {}));

/** Converts a wire int64 id to a number, rejecting ids JavaScript cannot hold exactly. */
export function idFromPb(value: bigint, field: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument([{ field, code: "OUT_OF_RANGE", message: "must be a positive id" }]);
  }
  return Number(value);
}
