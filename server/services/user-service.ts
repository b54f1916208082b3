import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  BatchCreateUsersResponseSchema,
  BatchItemErrorSchema,
  CreateUserResponseSchema,
  DeleteUserResponseSchema,
  GetUserResponseSchema,
  SendChatMessageResponseSchema,
  UpdateUserResponseSchema,
  type BatchItemError,
  type GetUserResponse,
  type CreateUserRequest,
  type UserService,
} from "../../gen/user/user_pb.js";
import type { ChatHub } from "../chat/chat-hub.js";
import { chatLimits } from "../chat/chat-rules.js";
import { DomainError, unauthenticated } from "../domain/errors.js";
import type { Principal, User } from "../domain/types.js";
import type { UserDirectory } from "../domain/user-directory.js";
import type { NewUserInput } from "../domain/user-rules.js";
import { principalKey } from "../interceptors/context-keys.js";
import { chatKeepalive, chatToPb, idFromPb, kindFromPb, parseFieldMask, statusFromPb, userToPb } from "./mappers.js";

export interface UserServiceDeps {
  directory: UserDirectory;
  hub: ChatHub;
  /** Silence after which SubscribeChat sends a keep-alive message (id 0). */
  chatKeepaliveMs: number;
  /** Items of one BatchCreateUsers call hashed and stored at the same time. */
  batchConcurrency?: number;
  /** Reports an unexpected failure of one batch item, which the caller sees only as INTERNAL. */
  onUnexpected?: (error: unknown) => void;
}

function principalOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(principalKey);
  if (principal === undefined) throw unauthenticated();
  return principal;
}

function newUserInput(req: CreateUserRequest): NewUserInput {
  return {
    username: req.username,
    email: req.email,
    password: req.password,
    fullName: req.fullName,
    avatarUrl: req.avatarUrl,
    roles: req.roles,
    metadata: req.metadata,
  };
}

const notFoundResponse = Object.freeze(create(GetUserResponseSchema, { found: false }));

/**
 * The full GetUser answer for one user view, made once: views are immutable
 * and shared while the user is cached, and a frozen answer lets the gRPC fast
 * path reuse its encoding.
 */
const foundResponses = new WeakMap<User, GetUserResponse>();
function foundResponse(user: User): GetUserResponse {
  let response = foundResponses.get(user);
  if (response === undefined) {
    response = Object.freeze(create(GetUserResponseSchema, { user: Object.freeze(userToPb(user)), found: true }));
    foundResponses.set(user, response);
  }
  return response;
}

/** The UserService handlers: each maps the request to one domain call and the result back, nothing else. */
export function createUserService(deps: UserServiceDeps): ServiceImpl<typeof UserService> {
  const { directory, hub } = deps;
  const batchConcurrency = deps.batchConcurrency ?? 4;

  return {
    async getUser(req, ctx) {
      const mask = parseFieldMask(req.fields);
      const user = await directory.getUser(ctx.values.get(principalKey), idFromPb(req.userId, "user_id"));
      if (user === undefined) return notFoundResponse;
      return mask === undefined ? foundResponse(user) : create(GetUserResponseSchema, { user: userToPb(user, mask), found: true });
    },

    async createUser(req, ctx) {
      const user = await directory.createUser(ctx.values.get(principalKey), newUserInput(req), { signal: ctx.signal });
      return create(CreateUserResponseSchema, { user: userToPb(user), success: true, message: "User created successfully" });
    },

    async updateUser(req, ctx) {
      const user = await directory.updateUser(principalOf(ctx), idFromPb(req.userId, "user_id"), {
        username: req.username,
        email: req.email,
        fullName: req.fullName,
        avatarUrl: req.avatarUrl,
        status: req.status === undefined ? undefined : (statusFromPb(req.status) ?? statusMustBeSet()),
        roles: req.roles.length > 0 ? req.roles : undefined,
        metadata: Object.keys(req.metadata).length > 0 ? req.metadata : undefined,
      });
      return create(UpdateUserResponseSchema, { user: userToPb(user), success: true, message: "User updated successfully" });
    },

    async deleteUser(req, ctx) {
      await directory.deleteUser(principalOf(ctx), idFromPb(req.userId, "user_id"), req.softDelete);
      return create(DeleteUserResponseSchema, {
        success: true,
        message: req.softDelete ? "User soft deleted successfully" : "User deleted successfully",
      });
    },

    async *listUsers(req, ctx) {
      const users = directory.listUsers(
        principalOf(ctx),
        {
          page: req.page,
          pageSize: req.pageSize,
          search: req.search,
          status: statusFromPb(req.status),
          roles: req.roles,
          sortBy: req.sortBy,
          sortOrder: req.sortOrder,
        },
        ctx.signal,
      );
      for await (const user of users) yield userToPb(user);
    },

    async batchCreateUsers(requests, ctx) {
      const principal = principalOf(ctx);
      directory.assertMayBatchCreate(principal);
      const created: { index: number; user: User }[] = [];
      const failed: BatchItemError[] = [];
      const inFlight = new Set<Promise<void>>();
      // Items hash in parallel but insert in stream order, so duplicates within a batch resolve first-wins.
      let previousInsert: Promise<unknown> = Promise.resolve();
      let index = 0;
      for await (const req of requests) {
        const itemIndex = index++;
        const label = req.username === "" ? "" : ` (${req.username.slice(0, 64)})`;
        const creation = directory.createUserAsAdmin(principal, newUserInput(req), { insertAfter: previousInsert, signal: ctx.signal });
        previousInsert = creation;
        const task = creation
          .then((user) => void created.push({ index: itemIndex, user }))
          .catch((error: unknown) => void failed.push(itemError(itemIndex, label, error, deps.onUnexpected)))
          .finally(() => inFlight.delete(task));
        inFlight.add(task);
        if (inFlight.size >= batchConcurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      created.sort((a, b) => a.index - b.index);
      failed.sort((a, b) => a.index - b.index);
      return create(BatchCreateUsersResponseSchema, {
        users: created.map((c) => userToPb(c.user)),
        successCount: created.length,
        errorCount: failed.length,
        errors: failed.map((f) => `item ${f.index}: ${f.message}`),
        itemErrors: failed,
      });
    },

    async *userChat(requests, ctx) {
      const principal = principalOf(ctx);
      const controller = new AbortController();
      const onAbort = () => controller.abort(ctx.signal.reason);
      ctx.signal.addEventListener("abort", onAbort);
      let lastSentId = 0;
      // The client's half-close ends the session once its own receipts have been delivered.
      const reader = (async () => {
        for await (const message of requests) {
          const stored = await hub.send(principal, {
            claimedFromUserId: idFromPb(message.fromUserId, "from_user_id"),
            toUserId: idFromPb(message.toUserId, "to_user_id"),
            content: message.content,
            kind: kindFromPb(message.type),
          });
          lastSentId = stored.id;
        }
        return lastSentId;
      })();
      reader.catch((error: unknown) => controller.abort(error));
      try {
        for await (const message of hub.subscribe(principal, {
          from: { kind: "live" },
          signal: controller.signal,
          stopAfter: reader.catch(() => Number.MAX_SAFE_INTEGER),
        })) {
          if (message !== undefined) yield chatToPb(message);
        }
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        if (!controller.signal.aborted) controller.abort();
      }
    },

    async *subscribeChat(req, ctx) {
      const principal = principalOf(ctx);
      const sinceId = idFromPb(req.sinceId, "since_id");
      const limit = req.historyLimit <= 0 ? chatLimits.historyDefault : Math.min(req.historyLimit, chatLimits.historyMax);
      for await (const message of hub.subscribe(principal, {
        from: sinceId > 0 ? { kind: "after", sinceId } : { kind: "recent", limit },
        signal: ctx.signal,
        keepaliveMs: deps.chatKeepaliveMs,
      })) {
        yield message === undefined ? chatKeepalive : chatToPb(message);
      }
    },

    async sendChatMessage(req, ctx) {
      const stored = await hub.send(principalOf(ctx), {
        claimedFromUserId: 0,
        toUserId: idFromPb(req.toUserId, "to_user_id"),
        content: req.content,
        kind: kindFromPb(req.type),
      });
      return create(SendChatMessageResponseSchema, { message: chatToPb(stored) });
    },
  };
}

function statusMustBeSet(): never {
  throw new DomainError("invalid_argument", "status must not be USER_STATUS_UNSPECIFIED when present", {
    violations: [{ field: "status", code: "INVALID_VALUE", message: "must not be USER_STATUS_UNSPECIFIED" }],
    reason: "VALIDATION_FAILED",
  });
}

function itemError(index: number, label: string, error: unknown, onUnexpected?: (error: unknown) => void): BatchItemError {
  if (error instanceof DomainError) {
    return create(BatchItemErrorSchema, {
      index,
      code: error.kind.toUpperCase(),
      message: `${label.trim() === "" ? "" : `${label.trim()} `}${error.message}`,
      fields: (error.details.violations ?? []).map((v) => v.field),
    });
  }
  onUnexpected?.(error);
  return create(BatchItemErrorSchema, { index, code: "INTERNAL", message: "internal error" });
}

