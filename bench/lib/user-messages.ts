/**
 * protobuf-es builders for the few contract messages the harness sends or
 * prebuilds, so every binary body comes from the generated schema.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  CreateUserRequestSchema,
  GetUserRequestSchema,
  GetUserResponseSchema,
  ListUsersRequestSchema,
  UserSchema,
  UserStatus,
  type User,
} from "../../gen/user/user_pb.js";
import type { SeedUser } from "./seed-data.js";

/** The User message a target should return for a seeded user with this id. */
export function seedUserMessage(u: SeedUser, id: bigint, timestampMs: bigint): User {
  return create(UserSchema, {
    id,
    username: u.username,
    email: u.email,
    fullName: u.fullName,
    avatarUrl: u.avatarUrl,
    createdAt: timestampMs,
    updatedAt: timestampMs,
    status: UserStatus.ACTIVE,
    roles: u.roles,
    metadata: u.metadata,
  });
}

/** Serialized GetUserResponse{user, found: true}. */
export function getUserResponseBytes(user: User): Uint8Array {
  return toBinary(GetUserResponseSchema, create(GetUserResponseSchema, { user, found: true }));
}

/** Serialized GetUserRequest for one id. */
export function getUserRequestBytes(userId: bigint): Uint8Array {
  return toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { userId }));
}

/** Serialized ListUsersRequest for one page, sorted by id. */
export function listUsersRequestBytes(page: number, pageSize: number): Uint8Array {
  return toBinary(ListUsersRequestSchema, create(ListUsersRequestSchema, { page, pageSize, sortBy: "id", sortOrder: "asc" }));
}

/** Serialized CreateUserRequest for one seeded user. */
export function createUserRequestBytes(u: SeedUser, password: string): Uint8Array {
  return toBinary(CreateUserRequestSchema, create(CreateUserRequestSchema, {
    username: u.username,
    email: u.email,
    password,
    fullName: u.fullName,
    avatarUrl: u.avatarUrl,
    roles: u.roles,
    metadata: u.metadata,
  }));
}
