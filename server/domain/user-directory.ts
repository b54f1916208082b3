import { accessPolicy } from "./access-policy.js";
import { invalidArgument, notFound, permissionDenied, unauthenticated } from "./errors.js";
import { ADMIN_ROLE, USER_ROLE, type Clock, type Principal, type User, type UserStatus } from "./types.js";
import {
  normalizeUsername,
  parseUserQuery,
  validateNewUser,
  validateUserChange,
  type ListUsersInput,
  type NewUserInput,
  type UserChange,
} from "./user-rules.js";
import type { PasswordHasher } from "../security/password-hasher.js";
import type { StoredUser, UserStore } from "../storage/ports.js";

/**
 * Stored rows are immutable snapshots (a change makes a new one), so the
 * public view of a row is made once; the user cache hands out the same row
 * to every call, which then shares this view and whatever is derived from it.
 */
const publicViews = new WeakMap<StoredUser, User>();

/** Removes the password hash, so nothing above this layer can leak it. */
export function publicUser(stored: StoredUser): User {
  let view = publicViews.get(stored);
  if (view === undefined) {
    const { passwordHash: _hash, ...user } = stored;
    view = Object.freeze(user) as User;
    publicViews.set(stored, view);
  }
  return view;
}

export interface UserDirectoryDeps {
  users: UserStore;
  hasher: PasswordHasher;
  clock: Clock;
  allowSignup: boolean;
}

/** How one creation fits into its call. */
export interface CreateOptions {
  /** Insert only after this settles, so items of one batch are stored in stream order. */
  insertAfter?: Promise<unknown>;
  /** The call's signal: once it aborts, nothing more is written. */
  signal?: AbortSignal;
}

function requireId(id: number, field = "user_id"): void {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw invalidArgument([{ field, code: id === 0 ? "REQUIRED" : "OUT_OF_RANGE", message: id === 0 ? "is required" : "must be a positive id" }]);
  }
}

/** The user rules: validation, access policy and storage, with no knowledge of any protocol. */
export function createUserDirectory(deps: UserDirectoryDeps) {
  const { users, hasher, clock } = deps;

  async function insert(input: NewUserInput, status: UserStatus, roles: string[], options: CreateOptions): Promise<User> {
    const username = normalizeUsername(input.username);
    // Hash only after validation passed, and let the database decide uniqueness so races have one winner.
    const passwordHash = await hasher.hash(input.password);
    // Hashes may finish in any order; inserts keep the caller's order so the first of two clashing items wins.
    await options.insertAfter?.catch(() => undefined);
    // A caller that gave up (deadline, cancel) while the hash was computed gets nothing written.
    if (options.signal?.aborted) throw options.signal.reason;
    const stored = await users.create({
      username,
      email: input.email,
      passwordHash,
      fullName: input.fullName,
      avatarUrl: input.avatarUrl,
      status,
      roles,
      metadata: input.metadata,
      createdAt: clock.now(),
    });
    return publicUser(stored);
  }

  /**
   * Creates a user. Admins choose roles; anyone else signs up and always
   * gets roles [user] and status active, and asking for more is refused.
   */
  async function createUser(principal: Principal | undefined, input: NewUserInput, options: CreateOptions = {}): Promise<User> {
    validateNewUser(input);
    if (principal?.isAdmin) {
      const roles = input.roles.length > 0 ? [...new Set(input.roles)] : [USER_ROLE];
      return insert(input, "active", roles, options);
    }
    if (!deps.allowSignup) {
      throw principal === undefined ? unauthenticated("sign-up is disabled; sign in as an admin") : permissionDenied("sign-up is disabled");
    }
    if (input.roles.some((role) => role !== USER_ROLE)) throw permissionDenied("only admins may set roles");
    return insert(input, "active", [USER_ROLE], options);
  }

  return {
    createUser,

    /** Reads one user; non-admins do not see deleted users. */
    async getUser(principal: Principal | undefined, id: number): Promise<User | undefined> {
      requireId(id);
      accessPolicy.assertMayReadDirectory(principal);
      const stored = await users.getById(id);
      if (stored === undefined) return undefined;
      if (stored.status === "deleted" && !principal?.isAdmin) return undefined;
      return publicUser(stored);
    },

    /** Batch creation is an admin tool; checked once, before any item is read. */
    assertMayBatchCreate(principal: Principal | undefined): void {
      accessPolicy.assertMayCreateAsAdmin(principal);
    },

    /** Creates a user on an admin's behalf; used by BatchCreateUsers, which only admins may call. */
    async createUserAsAdmin(principal: Principal | undefined, input: NewUserInput, options: CreateOptions = {}): Promise<User> {
      accessPolicy.assertMayCreateAsAdmin(principal);
      return createUser(principal, input, options);
    },

    /** Applies the present fields of a change. */
    async updateUser(principal: Principal, id: number, change: UserChange): Promise<User> {
      requireId(id);
      const normalized: UserChange = {
        ...change,
        username: change.username === undefined ? undefined : normalizeUsername(change.username),
        roles: change.roles === undefined ? undefined : [...new Set(change.roles)],
      };
      validateUserChange(normalized);
      accessPolicy.assertMayUpdate(principal, id, normalized);
      if (principal.isAdmin && principal.userId === id && normalized.roles !== undefined && !normalized.roles.includes(ADMIN_ROLE)) {
        throw permissionDenied("admins may not remove their own admin role");
      }
      const updated = await users.update(id, { ...normalized, updatedAt: clock.now() });
      if (updated === undefined) throw notFound("user", { user_id: String(id) });
      return publicUser(updated);
    },

    /** Soft delete sets status deleted; hard delete removes the row. */
    async deleteUser(principal: Principal, id: number, soft: boolean): Promise<void> {
      requireId(id);
      accessPolicy.assertMayDelete(principal, id, soft);
      if (soft) {
        const updated = await users.update(id, { status: "deleted", updatedAt: clock.now() });
        if (updated === undefined) throw notFound("user", { user_id: String(id) });
        return;
      }
      if (!(await users.remove(id))) throw notFound("user", { user_id: String(id) });
    },

    /** Streams one page of users straight from storage. */
    listUsers(principal: Principal, input: ListUsersInput, signal?: AbortSignal): AsyncIterable<User> {
      const query = parseUserQuery(input);
      accessPolicy.assertMayListStatus(principal, query.status);
      const rows = users.list(query, signal);
      return (async function* () {
        // Listed rows are fresh objects seen once: strip the hash without remembering the view.
        for await (const row of rows) {
          const { passwordHash: _hash, ...user } = row;
          yield user;
        }
      })();
    },
  };
}

export type UserDirectory = ReturnType<typeof createUserDirectory>;
