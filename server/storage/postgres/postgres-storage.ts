import { Kysely, Migrator, PostgresDialect, sql, type SelectQueryBuilder } from "kysely";
import pg from "pg";
import Cursor from "pg-cursor";
import type { UserQuery } from "../../domain/user-rules.js";
import { createKyselyChatStore, createKyselyUserStore, type Database, type EngineQuirks, type UserRow } from "../kysely-storage.js";
import type { Storage } from "../ports.js";
import { withUnavailableErrors } from "./connection-errors.js";
import { postgresMigrations } from "./migrations.js";

/** Rows a cursor fetches per round trip while streaming ListUsers. */
const CURSOR_CHUNK = 100;
/** Any constant: the transaction-scoped lock that makes chat ids commit in order. */
const CHAT_APPEND_LOCK = 727_274_001;

const quirks: EngineQuirks = {
  caseInsensitiveLike: "ilike",
  rolesOverlap: (roles) => sql<boolean>`jsonb_exists_any(users.roles::jsonb, ${roles}::text[])`,
  uniqueViolation(error) {
    const e = error as { code?: string; constraint?: string };
    return e?.code === "23505" ? (e.constraint ?? "") : undefined;
  },
  inAppendOrder(db, insert) {
    // Serialising appends makes ids commit in increasing order, so a reader
    // that has seen id N can never later find a smaller id appear.
    return db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${CHAT_APPEND_LOCK})`.execute(trx);
      return insert(trx);
    });
  },
  streamUsers(build: () => SelectQueryBuilder<Database, "users", UserRow>, query: UserQuery, signal?: AbortSignal) {
    return (async function* () {
      // A server-side cursor: rows arrive in chunks as the client reads, never the whole page at once.
      const rows = build().limit(query.limit).offset(query.offset).stream(CURSOR_CHUNK);
      for await (const row of rows) {
        if (signal?.aborted) return;
        yield row;
      }
    })();
  },
};

export interface PostgresOptions {
  connectionString: string;
  poolSize: number;
  /** A schema to use instead of public; tests use one per run. Plain lower-case SQL identifier. */
  schema?: string;
  /** How long a call waits for a pooled connection before it fails as UNAVAILABLE. */
  connectTimeoutMs?: number;
  /** Shown in pg_stat_activity, so operators (and tests) can tell these connections apart. */
  applicationName?: string;
}

const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Connects to PostgreSQL, migrates, and returns the storage. Connection-class
 * failures surface as UNAVAILABLE; the pool replaces broken connections, so
 * the storage recovers by itself once the database is back.
 */
export async function openPostgresStorage(options: PostgresOptions): Promise<Storage> {
  const schema = options.schema ?? "public";
  if (!schemaName.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}"`);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    // Keep-alive probes notice a silently dead peer (a failover, a dropped NAT entry).
    keepAlive: true,
    application_name: options.applicationName ?? "polyglot-users",
    ...(options.schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // A dropped connection must not crash the process: idle ones report to the pool,
  // checked-out ones to their client (pg emits "error" there too, besides failing the query).
  // Either way the pool discards the broken client and opens a new one on demand.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
  // The migrator creates the schema (tolerating a replica doing the same) and
  // keeps its own bookkeeping tables in it, so schemas never share migration state;
  // its session advisory lock lets one of several starting replicas migrate while the others wait.
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => postgresMigrations },
    migrationTableSchema: schema,
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return withUnavailableErrors({
    engine: "postgres",
    users: createKyselyUserStore(db, quirks),
    chat: createKyselyChatStore(db, quirks),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  });
}
