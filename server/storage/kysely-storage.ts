import { sql, type Generated, type Kysely, type Selectable, type SelectQueryBuilder, type Updateable } from "kysely";
import { alreadyExists } from "../domain/errors.js";
import type { ChatMessage, ChatMessageKind, UserStatus } from "../domain/types.js";
import type { UserQuery } from "../domain/user-rules.js";
import type { ChatStore, NewUserRow, StoredUser, UserPatch, UserStore } from "./ports.js";

/** The users table as both engines lay it out. */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string;
  password_hash: string;
  full_name: string;
  avatar_url: string;
  status: string;
  /** JSON array of strings. */
  roles: string;
  /** JSON object of strings. */
  metadata: string;
  created_at: number | string;
  updated_at: number | string;
}

/** The chat history table as both engines lay it out. */
export interface ChatMessagesTable {
  id: Generated<number>;
  from_user_id: number | string;
  to_user_id: number | string;
  content: string;
  kind: string;
  created_at: number | string;
}

export interface Database {
  users: UsersTable;
  chat_messages: ChatMessagesTable;
}

/** A users row as read back from either engine. */
export type UserRow = Selectable<UsersTable>;

/** The few places where SQLite and PostgreSQL need different SQL. */
export interface EngineQuirks {
  /** Case-insensitive LIKE operator. */
  caseInsensitiveLike: "like" | "ilike";
  /** A boolean SQL condition: the roles JSON column holds any of the given roles. */
  rolesOverlap(roles: string[]): ReturnType<typeof sql<boolean>>;
  /** The unique index a constraint error names, or undefined when it is not a unique violation. */
  uniqueViolation(error: unknown): string | undefined;
  /** Runs the insert of a chat message so that ids become visible in increasing order. */
  inAppendOrder<T>(db: Kysely<Database>, insert: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Streams a select; engines differ in how they keep a cursor open without
   * holding up other queries. `build(after)` continues the listing's order
   * just past the row `after`, so a later chunk need not skip rows again.
   */
  streamUsers(
    build: (after?: UserRow) => SelectQueryBuilder<Database, "users", UserRow>,
    query: UserQuery,
    signal: AbortSignal | undefined,
  ): AsyncIterable<UserRow>;
}

const statuses: readonly UserStatus[] = ["active", "inactive", "suspended", "deleted"];
const kinds: readonly ChatMessageKind[] = ["unspecified", "text", "image", "file", "system"];

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Turns a row into a domain user; engines return BIGINT as number or string, both are accepted. */
export function rowToUser(row: UserRow): StoredUser {
  return {
    id: Number(row.id),
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    fullName: row.full_name,
    avatarUrl: row.avatar_url,
    status: statuses.includes(row.status as UserStatus) ? (row.status as UserStatus) : "inactive",
    roles: parseJson<string[]>(row.roles, []),
    metadata: parseJson<Record<string, string>>(row.metadata, {}),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

type ChatRow = Selectable<ChatMessagesTable> & { from_username: string | null };

function rowToChat(row: ChatRow): ChatMessage {
  return {
    id: Number(row.id),
    fromUserId: Number(row.from_user_id),
    fromUsername: row.from_username ?? "",
    toUserId: Number(row.to_user_id),
    content: row.content,
    kind: kinds.includes(row.kind as ChatMessageKind) ? (row.kind as ChatMessageKind) : "text",
    createdAt: Number(row.created_at),
  };
}

const sortColumns = {
  id: "id",
  username: "username",
  email: "email",
  full_name: "full_name",
  created_at: "created_at",
  updated_at: "updated_at",
} as const;

/** Escapes LIKE wildcards so a search for "50%" finds that text literally. */
function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function rethrowUnique(error: unknown, quirks: EngineQuirks): never {
  const index = quirks.uniqueViolation(error);
  if (index?.includes("username")) throw alreadyExists("username");
  if (index?.includes("email")) throw alreadyExists("email");
  throw error;
}

/** The user store shared by both engines, parameterised by their quirks. */
export function createKyselyUserStore(db: Kysely<Database>, quirks: EngineQuirks): UserStore {
  const selectUsers = () => db.selectFrom("users").selectAll();
  return {
    async create(row: NewUserRow) {
      try {
        const inserted = await db
          .insertInto("users")
          .values({
            username: row.username,
            email: row.email,
            password_hash: row.passwordHash,
            full_name: row.fullName,
            avatar_url: row.avatarUrl,
            status: row.status,
            roles: JSON.stringify(row.roles),
            metadata: JSON.stringify(row.metadata),
            created_at: row.createdAt,
            updated_at: row.createdAt,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return rowToUser(inserted);
      } catch (error) {
        rethrowUnique(error, quirks);
      }
    },

    async getById(id) {
      const row = await selectUsers().where("id", "=", id).executeTakeFirst();
      return row === undefined ? undefined : rowToUser(row);
    },

    async findByLogin(usernameOrEmail) {
      const needle = usernameOrEmail.toLowerCase();
      const row = await selectUsers()
        .where((eb) =>
          eb.or([eb(eb.fn("lower", ["username"]), "=", needle), eb(eb.fn("lower", ["email"]), "=", needle)]),
        )
        .orderBy("id")
        .executeTakeFirst();
      return row === undefined ? undefined : rowToUser(row);
    },

    async update(id, patch: UserPatch) {
      const set: Updateable<UsersTable> = { updated_at: patch.updatedAt };
      if (patch.username !== undefined) set.username = patch.username;
      if (patch.email !== undefined) set.email = patch.email;
      if (patch.fullName !== undefined) set.full_name = patch.fullName;
      if (patch.avatarUrl !== undefined) set.avatar_url = patch.avatarUrl;
      if (patch.status !== undefined) set.status = patch.status;
      if (patch.roles !== undefined) set.roles = JSON.stringify(patch.roles);
      if (patch.metadata !== undefined) set.metadata = JSON.stringify(patch.metadata);
      if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
      try {
        const row = await db.updateTable("users").set(set).where("id", "=", id).returningAll().executeTakeFirst();
        return row === undefined ? undefined : rowToUser(row);
      } catch (error) {
        rethrowUnique(error, quirks);
      }
    },

    async remove(id) {
      const result = await db.deleteFrom("users").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    list(query: UserQuery, signal?: AbortSignal): AsyncIterable<StoredUser> {
      const column = sortColumns[query.sortBy];
      const past = query.sortOrder === "asc" ? ">" : "<";
      const build = (after?: UserRow) => {
        let q = selectUsers();
        // Every sort column is NOT NULL and id breaks ties, so (column, id) orders the listing totally.
        if (after !== undefined) {
          q = column === "id"
            ? q.where("id", past, after.id)
            : q.where((eb) => eb(eb.refTuple(column, "id"), past, eb.tuple(after[column], after.id)));
        }
        if (query.status === undefined) q = q.where("status", "!=", "deleted");
        else q = q.where("status", "=", query.status);
        if (query.search !== "") {
          const pattern = likePattern(query.search);
          const op = quirks.caseInsensitiveLike;
          q = q.where((eb) =>
            eb.or([
              eb(sql`username`, op, sql`${pattern} escape '\\'`),
              eb(sql`email`, op, sql`${pattern} escape '\\'`),
              eb(sql`full_name`, op, sql`${pattern} escape '\\'`),
            ]),
          );
        }
        if (query.roles.length > 0) q = q.where(quirks.rolesOverlap(query.roles));
        q = q.orderBy(column, query.sortOrder);
        if (query.sortBy !== "id") q = q.orderBy("id", query.sortOrder);
        return q;
      };
      const rows = quirks.streamUsers(build, query, signal);
      return (async function* () {
        for await (const row of rows) yield rowToUser(row);
      })();
    },

    async count() {
      const row = await db.selectFrom("users").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

/** The chat store shared by both engines. */
export function createKyselyChatStore(db: Kysely<Database>, quirks: EngineQuirks): ChatStore {
  const selectChat = () =>
    db
      .selectFrom("chat_messages as m")
      .leftJoin("users as u", "u.id", "m.from_user_id")
      .select(["m.id", "m.from_user_id", "m.to_user_id", "m.content", "m.kind", "m.created_at", "u.username as from_username"]);
  return {
    async append(message) {
      const id = await quirks.inAppendOrder(db, async (tx) => {
        const row = await tx
          .insertInto("chat_messages")
          .values({
            from_user_id: message.fromUserId,
            to_user_id: message.toUserId,
            content: message.content,
            kind: message.kind,
            created_at: message.createdAt,
          })
          .returning("id")
          .executeTakeFirstOrThrow();
        return Number(row.id);
      });
      const row = await selectChat().where("m.id", "=", id).executeTakeFirstOrThrow();
      return rowToChat(row);
    },
    async after(afterId, limit) {
      const rows = await selectChat().where("m.id", ">", afterId).orderBy("m.id", "asc").limit(limit).execute();
      return rows.map((r) => rowToChat(r));
    },
    async visibleAfter(userId, afterId, limit) {
      const rows = await selectChat()
        .where("m.id", ">", afterId)
        .where((eb) => eb.or([eb("m.to_user_id", "=", 0), eb("m.to_user_id", "=", userId), eb("m.from_user_id", "=", userId)]))
        .orderBy("m.id", "asc")
        .limit(limit)
        .execute();
      return rows.map((r) => rowToChat(r));
    },
    async recentVisible(userId, limit) {
      const rows = await selectChat()
        .where((eb) => eb.or([eb("m.to_user_id", "=", 0), eb("m.to_user_id", "=", userId), eb("m.from_user_id", "=", userId)]))
        .orderBy("m.id", "desc")
        .limit(limit)
        .execute();
      return rows.map((r) => rowToChat(r)).reverse();
    },
    async latestId() {
      const row = await db.selectFrom("chat_messages").select((eb) => eb.fn.max("id").as("max")).executeTakeFirst();
      return row?.max == null ? 0 : Number(row.max);
    },
  };
}
