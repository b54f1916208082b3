import { mkdirSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect, sql, type SelectQueryBuilder } from "kysely";
import type { UserQuery } from "../../domain/user-rules.js";
import { createKyselyChatStore, createKyselyUserStore, type Database, type EngineQuirks, type UserRow } from "../kysely-storage.js";
import type { Storage } from "../ports.js";
import { sqliteMigrations } from "./migrations.js";
import { withStatementCache } from "./statement-cache.js";

/**
 * Rows fetched per query while streaming: small enough that a slow reader
 * never holds SQLite's one connection for long, large enough that a page of
 * 1000 costs a handful of queries.
 */
const STREAM_CHUNK = 250;

const quirks: EngineQuirks = {
  caseInsensitiveLike: "like",
  rolesOverlap: (roles) =>
    sql<boolean>`exists (select 1 from json_each(users.roles) where json_each.value in (${sql.join(roles)}))`,
  uniqueViolation(error) {
    const e = error as { code?: string; message?: string };
    if (e?.code !== "SQLITE_CONSTRAINT_UNIQUE") return undefined;
    return e.message ?? "";
  },
  // SQLite has one writer, so ids are always committed in order.
  inAppendOrder: (db, insert) => insert(db),
  streamUsers(build: (after?: UserRow) => SelectQueryBuilder<Database, "users", UserRow>, query: UserQuery, signal?: AbortSignal) {
    return (async function* () {
      let sent = 0;
      let last: UserRow | undefined;
      while (sent < query.limit) {
        if (signal?.aborted) return;
        const take = Math.min(STREAM_CHUNK, query.limit - sent);
        // Only the first chunk skips to the page; the next ones continue after the last row sent, which
        // costs no rescan and neither repeats nor skips a row when others are added or deleted meanwhile.
        const chunk = last === undefined ? build().limit(take).offset(query.offset) : build(last).limit(take);
        const rows = await chunk.execute();
        for (const row of rows) {
          if (signal?.aborted) return;
          yield row;
        }
        sent += rows.length;
        if (rows.length < take) return;
        last = rows[rows.length - 1];
      }
    })();
  },
};

/** Options of the embedded engine. */
export interface SqliteOptions {
  /** A file path, or ":memory:" for tests. */
  file: string;
}

/** The database file inside DATA_DIR. */
export function sqliteFileIn(dataDir: string): string {
  return path.join(dataDir, "users.sqlite");
}

/** Opens (creating if needed) the SQLite database, migrates it, and returns the storage. */
export async function openSqliteStorage(options: SqliteOptions): Promise<Storage> {
  if (options.file !== ":memory:") mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
  const raw = new BetterSqlite3(options.file);
  raw.pragma("journal_mode = WAL");
  // NORMAL in WAL mode: a commit is in the WAL (the OS's hands) before the reply, so an
  // acknowledged write survives kill -9 and restarts; only a power cut can lose the last
  // few commits. FULL fsyncs every commit, which cost ~27 ms per sign-up on this VM.
  raw.pragma("synchronous = NORMAL");
  raw.pragma("foreign_keys = ON");
  raw.pragma("busy_timeout = 5000");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => sqliteMigrations },
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return {
    engine: "sqlite",
    users: createKyselyUserStore(db, quirks),
    chat: createKyselyChatStore(db, quirks),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
