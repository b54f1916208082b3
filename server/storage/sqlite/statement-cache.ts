import type BetterSqlite3 from "better-sqlite3";
import type { SqliteDatabase } from "kysely";

/**
 * Hands Kysely the same prepared statement for the same SQL text. Kysely
 * prepares every query anew, and better-sqlite3's prepare() was the largest
 * single cost of a GetUser in profiles. Reuse is safe because every statement
 * here runs to completion synchronously (this store never streams a cursor).
 */
export function withStatementCache(db: BetterSqlite3.Database, max = 256): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = db.prepare(sql);
        // Queries are built from a handful of shapes; the bound keeps a pathological caller from growing it.
        if (statements.size >= max) statements.delete(statements.keys().next().value as string);
        statements.set(sql, statement);
      }
      return statement as unknown as ReturnType<SqliteDatabase["prepare"]>;
    },
  };
}
